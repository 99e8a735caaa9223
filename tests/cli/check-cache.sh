#!/usr/bin/env bash
# check remembers the tools' clean verdicts (checkcache.h): an unchanged
# block is not given to bash -n again; an edited block is; a block with a
# syntax error is checked (and reported) every time; another bash starts
# afresh; RUNBOOK_CACHE_DIR=off keeps nothing.
set -euo pipefail
bin=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; cat "$work/out" 2>/dev/null; exit 1; }
cd "$work"
mkdir tools
real=$(command -v bash)
# A bash that logs each use, so the test sees which blocks were checked.
printf '#!%s\nprintf "%%s\\n" "$*" >> %s/calls\nexec %s "$@"\n' "$real" "$work" "$real" > tools/bash
chmod +x tools/bash
ln -s "$(command -v sh)" tools/sh
cat > three.md <<'MD'
# Three

```bash {name=one}
echo one
```

```bash {name=two}
echo two
```

```bash {name=three}
echo three
```
MD
check() { # check EXPECTED-EXIT FILE [ENV...]: PATH holds only the logging bash and sh
  local want=$1 file=$2 rc=0; shift 2
  env PATH="$work/tools" RUNBOOK_CACHE_DIR="$work/cache" "$@" "$bin" check "$file" > out 2>&1 || rc=$?
  [ "$rc" = "$want" ] || fail "check $file: exit $rc, expected $want"
}
calls() { grep -c -- "-n" calls 2>/dev/null || true; }
check 0 three.md
[ "$(calls)" = 3 ] || fail "first check: $(calls) bash -n runs, expected 3"
[ "$(ls cache | wc -l)" = 3 ] || fail "first check: $(ls cache | wc -l) verdicts kept, expected 3"
check 0 three.md
[ "$(calls)" = 3 ] || fail "an unchanged runbook was checked again ($(calls) runs)"
# One block edited: only it goes to bash again.
sed -i 's/echo two/echo TWO/' three.md
check 0 three.md
[ "$(calls)" = 4 ] || fail "after an edit: $(calls) runs, expected 4"
# A syntax error: reported every time, never kept.
sed -i 's/echo three/if true; then echo three/' three.md
check 2 three.md
grep -q "three.md:13:1: error: shell syntax: syntax error: unexpected end of file" out || fail "the syntax error is not reported"
check 2 three.md
grep -q "shell syntax: syntax error" out || fail "the syntax error is not reported the second time"
[ "$(calls)" = 6 ] || fail "a broken block: $(calls) runs, expected 6"
# Another bash (same path, new modification time): every block afresh.
sed -i 's/if true; then echo three/echo three/' three.md
touch -d '2001-01-01' tools/bash
: > calls
check 0 three.md
[ "$(calls)" = 3 ] || fail "another bash: $(calls) runs, expected 3"
# The cache off: nothing kept, every block checked each time.
: > calls
check 0 three.md RUNBOOK_CACHE_DIR=off
check 0 three.md RUNBOOK_CACHE_DIR=off
[ "$(calls)" = 6 ] || fail "RUNBOOK_CACHE_DIR=off: $(calls) runs, expected 6"
# A cache directory others may write is not used (it could hold forged verdicts).
mkdir -p shared && chmod 777 shared
: > calls
check 0 three.md RUNBOOK_CACHE_DIR="$work/shared"
check 0 three.md RUNBOOK_CACHE_DIR="$work/shared"
[ "$(calls)" = 6 ] || fail "a world-writable cache: $(calls) runs, expected 6"
[ -z "$(ls shared)" ] || fail "verdicts were kept in a world-writable directory"
echo "check keeps clean verdicts only"
