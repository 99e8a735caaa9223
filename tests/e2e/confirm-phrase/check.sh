grep -q "step 'promote': not confirmed (no terminal and no --confirm); pass --confirm with the exact phrase" err.txt
! grep -q promoted out.txt
grep -qx promoted <<< "$("$1" run --confirm PROMOTE runbook.md)"
rc=0; "$1" run --confirm promote runbook.md >/dev/null 2>&1 || rc=$?
test "$rc" = 3
