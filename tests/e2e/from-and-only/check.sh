! grep -q 'step a' out.txt
grep -qx 'step b' out.txt
grep -qx 'step c' out.txt
out=$("$1" run --only b runbook.md)
grep -qx 'step b' <<< "$(echo "$out")"
! grep -q 'step [ac]' <<< "$(echo "$out")"
