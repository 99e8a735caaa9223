#!/usr/bin/env bash
# Confirmations: a wrong phrase is said to be wrong and asked again (three
# tries in all), a plain confirm given by --yes says so, and every approval
# names who gave it even where USER and LOGNAME are not set (CI runners).
set -u
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
export RUNBOOK_AUDIT_REPO=$dir/audit NO_COLOR=1
fail() { echo "FAIL: $*"; echo "--- out"; cat out 2>/dev/null; exit 1; }
drive() { # drive ANSWERS ARGS...: runbook on a pty, output in out; sets rc
  python3 "$here/lib/ptydrive.py" 'to go on: ' "$1" out -- "$bin" "${@:2}"
  rc=$?
}
record() {
  local path
  path=$(sed -n 's/.*(\(runs\/[^)]*record\.md\)).*/\1/p' out | tail -1)
  [ -n "$path" ] || fail "no audit line in the output"
  git -C audit show "runbook-audit:$path"
}
cat > c.md <<'MD'
# Confirmed

```bash {name=promote confirm="PROMOTE"}
touch promoted
```

```bash {name=plain confirm}
touch plain-ran
```

- [ ] the change board agreed
MD

# 1. Wrong twice, then right: asked again with the tries left, and it runs.
drive promote,PROMOTE-NOW,PROMOTE run c.md --yes
[ "$rc" = 0 ] && [ -e promoted ] || fail "the third, right phrase did not run the step (exit $rc)"
grep -q 'that is not the phrase (2 tries left)' out && grep -q 'that is not the phrase (1 try left)' out ||
  fail "a wrong phrase was not said to be wrong"
[ "$(grep -c 'type PROMOTE to go on' out)" = 3 ] || fail "the phrase was not asked three times"
record | grep -q 'typed at the terminal' || fail "the record does not say the phrase was typed"

# 2. Wrong three times: not confirmed (exit 3), and the record says the phrase did not match.
rm -f promoted
drive a,b,c run c.md --yes
[ "$rc" = 3 ] && [ ! -e promoted ] || fail "three wrong phrases: expected exit 3 and nothing run, got $rc"
grep -q "not confirmed (the phrase typed at the terminal did not match (3 tries))" out ||
  fail "the refusal does not say the phrase did not match"
[ "$(grep -c 'type PROMOTE to go on' out)" = 3 ] || fail "asked more or less than three times"

# 3. A plain confirm given by --yes says so; the approvals name who gave them
#    without USER and LOGNAME in the environment.
me=$(id -un)
env -u USER -u LOGNAME "$bin" run c.md --yes --confirm PROMOTE > out 2>&1 || fail "--yes --confirm failed"
grep -q "  confirmed by --yes: run step 'plain'" out || fail "the plain confirm given by --yes printed nothing"
record > rec.md
grep -q "| \`plain\` | run this step | $me | --yes |" rec.md || { cat rec.md; fail "the --yes approval does not name $me"; }
grep -q "| unknown |" rec.md && fail "an approval was recorded as given by 'unknown'"
echo "confirm: ok"
