grep -qxF "stored=[x');DROP TABLE people;--] count=1" out.txt
grep -q "it's :NAME inside a string" out.txt || true
grep -q ' :NAME in dollar quotes ' out.txt
grep -qx 'hello there from people' out.txt
grep -qx ' from an included file' out.txt
