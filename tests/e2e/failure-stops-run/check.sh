# Steps 1-3 ran, 4-5 did not; the failure names the step's file:line:col.
grep -qx 'three sees \[captured value\]' out.txt
! grep -q '^four$' out.txt
! grep -q '^five$' out.txt
grep -qx "runbook.md:11:1: step 'five-steps-3': failed with exit code 1" err.txt
