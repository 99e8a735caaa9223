grep -qx 'last runs' out.txt
! grep -q 'skipped step ran' out.txt
grep -q 'continuing' out.txt
