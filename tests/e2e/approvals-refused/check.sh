grep -q "runbook.md:4:1: step 'sign-off-required-1': not approved: Backup verified (no terminal and no --yes); run on a terminal, or pass --yes to approve" err.txt
! grep -q 'ran without approval' out.txt
out=$("$1" run --yes runbook.md)
grep -qx 'ran without approval' <<< "$(echo "$out")"
grep -q '\[x\] Backup verified  (--yes)' <<< "$(echo "$out")"
grep -q '\[x\] Change ticket approved  (checked in the runbook)' <<< "$(echo "$out")"
