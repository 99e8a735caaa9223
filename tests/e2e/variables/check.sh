grep -qx 'hello runbooks from nowhere' out.txt
grep -qx 'shout=quiet' out.txt
grep -qx 'captured=\[operator-7\]' out.txt
grep -qF '$(touch${IFS}pwned);`touch${IFS}pwned`' out.txt
test ! -e pwned
