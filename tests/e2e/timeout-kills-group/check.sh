sleep 0.3
if pgrep -f 'sleep 100[12]' >/dev/null; then echo "processes left behind:"; pgrep -af 'sleep 100[12]'; exit 1; fi
grep -q 'timed out after 1\.' out.raw
grep -q "runbook.md:5:1: step 'timeout-1': timed out after" err.txt
! grep -q 'never reached' out.txt
