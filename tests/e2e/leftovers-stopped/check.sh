grep -qx gone out.txt
grep -q 'background processes left by the step were stopped' out.txt
