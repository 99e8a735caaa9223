grep -q 'ok: failed as expected (42501' out.txt
grep -q "step 'wrongly-succeeds': expected an error matching '42501', but the step succeeded" err.txt
[ "$(grep -c 'failed as expected' out.txt)" = 4 ]
