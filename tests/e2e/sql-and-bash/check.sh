grep -qx 'bash saw 3 rows' out.txt
grep -qx ' id | name' out.txt
grep -qx '  3 | three' out.txt
grep -qx '(3 rows)' out.txt
grep -qx 'INSERT 0 3' out.txt
