grep -qx '   100' out.txt
grep -q "step 'forgot'.*BEGIN without COMMIT" err.txt
