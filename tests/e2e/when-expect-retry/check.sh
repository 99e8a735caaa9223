grep -q 'retrying (attempt 3 of 4)' out.txt
! grep -q 'retrying (attempt 4 of 4)' out.txt
grep -q 'quick skipped: when=' out.txt
grep -qx 'full mode' out.txt
grep -qx 'tries=3' out.txt
grep -q "step 'wrong': expect=steps.wrong.stdout == 'nope' does not hold" err.txt
