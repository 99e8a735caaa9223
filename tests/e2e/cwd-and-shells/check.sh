grep -qx "runs in the runbook's directory" out.txt
grep -qx 'inside' out.txt
grep -qx 'sh has no pipefail' out.txt
! grep -q 'bash never gets here' out.txt
grep -q "step 'working-directory-and-shells-4': failed with exit code 1" err.txt
