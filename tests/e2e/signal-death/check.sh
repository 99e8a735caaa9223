grep -q 'failed with exit code 137' err.txt
