grep -q 'gate open' out.txt
grep -q "step 'migrate': ERROR 42P01" err.txt
grep -q "step 'handler-fails': ERROR 42P01" err.txt
grep -qx 'total after rollback: 150 (failed: migrate)' out.txt
