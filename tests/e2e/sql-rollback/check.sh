grep -qx 'table exists: f' out.txt
grep -q "runbook.md:6:1: step 'half': ERROR 22012: division by zero" err.txt
