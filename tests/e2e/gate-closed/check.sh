grep -qx "runbook.md:10:1: step 'window': gate closed: outside maintenance window" err.txt
grep -qx 'undo after window (gate closed: outside maintenance window)' out.txt
! grep -q 'changed' out.txt
test ! -e state
