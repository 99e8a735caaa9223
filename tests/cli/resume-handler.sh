#!/usr/bin/env bash
# --resume of a run whose failure handler ran is refused (exit 2): the
# handler may have undone what the chain did, so continuing after it would
# run the later steps on a state the earlier ones no longer hold. --force
# resumes anyway (recorded); a handler whose steps were all skipped by
# when=, and a run killed before its handler could run, resume as before.
# Combined with Ctrl-C, kill -9, --from, plan --resume and a second resume.
set -euo pipefail
bin=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; for f in out err; do [ -s "$work/$f" ] && { echo "--- $f"; cat "$work/$f"; }; done; exit 1; }
cd "$work"
git init -q audit
cat > h.md <<'MD'
---
on_failure: failure
---
# Deploy

```bash {name=one}
echo one >> ran
```

```bash {name=two}
echo two >> ran
test -e FIXED || { [ -e SLOW ] && sleep 30; exit 1; }
```

```bash {name=three}
echo three >> ran
```

## Failure

```bash {name=undo-one when="vars.HANDLER ~= 'off'"}
echo undo-one >> ran
```
MD
run() { # run EXPECTED-EXIT ARGS...
  local want=$1 rc=0; shift
  "$bin" run h.md --audit-repo audit "$@" > out 2> err || rc=$?
  [ "$rc" = "$want" ] || fail "run $*: expected exit $want, got $rc"
}
last() { git -C audit log -1 --format='%(trailers:key=Run,valueonly)' refs/heads/runbook-audit | sed '/^$/d'; }
reset() { rm -f ran FIXED SLOW; }
signal_in_two() { # signal_in_two SIGNAL: a fresh run, SIGNAL while step two sleeps; its exit in $rc
  reset
  touch SLOW
  "$bin" run h.md --audit-repo audit > out 2> err &
  local pid=$!
  for _ in $(seq 100); do grep -q two ran 2>/dev/null && break; sleep 0.1; done
  kill "-$1" "$pid"
  rc=0; wait "$pid" 2>/dev/null || rc=$?
}

# 1. The handler ran: refused, exit 2, naming the run and the handler's step.
reset
run 1
first=$(last)
[ "$(cat ran)" = "$(printf 'one\ntwo\nundo-one')" ] || fail "first run: $(cat ran)"
touch FIXED
run 2 --resume
grep -qx "h.md: --resume: the failure handler ran in run $first (step 'undo-one'), and may have undone what the runs before it did: start a new run (without --resume), or, having checked what the handler did (runbook show), resume anyway with --force" err ||
  fail "refusal message"
[ "$(last)" = "$first" ] || fail "a refused resume was recorded"
[ "$(wc -l < ran)" = 3 ] || fail "a refused resume ran a step"
# The preview says the same and exits 2, changing nothing.
rc=0; "$bin" plan h.md --audit-repo audit --resume > out 2> err || rc=$?
[ "$rc" = 2 ] || fail "plan --resume: exit $rc"
grep -q "the failure handler ran in run $first" out err || fail "plan --resume does not say why"
# A second refused attempt: still refused, still nothing run.
run 2 --resume
[ "$(wc -l < ran)" = 3 ] || fail "a second refused resume ran a step"
# --force: resumes at two (one is not run again), succeeds, the record says what was forced.
run 0 --resume --force
[ "$(cat ran)" = "$(printf 'one\ntwo\nundo-one\ntwo\nthree')" ] || fail "forced resume ran: $(cat ran)"
grep -q "failure handler ran" err out || fail "the forced resume does not warn"
forced=$(last)
git -C audit show "refs/heads/runbook-audit:runs/${forced:0:4}/${forced:4:2}/${forced:6:2}/${forced:9}/record.json" > rec
grep -q "failure handler ran in run $first" rec || fail "the record does not keep what --force overrode"

# 2. A forced resume that fails again runs the handler again: the next resume is refused again.
reset
run 1
rm -f ran
run 1 --resume --force
[ "$(cat ran)" = "$(printf 'two\nundo-one')" ] || fail "forced resume failing again: $(cat ran)"
second=$(last)
run 2 --resume
grep -q "the failure handler ran in run $second" err || fail "resume twice: not refused naming the resumed run"

# 3. The handler's only step skipped by when=: nothing ran, the resume goes on.
reset
run 1 --set HANDLER=off
[ "$(cat ran)" = "$(printf 'one\ntwo')" ] || fail "when=-skipped handler: $(cat ran)"
touch FIXED
run 0 --resume
[ "$(cat ran)" = "$(printf 'one\ntwo\ntwo\nthree')" ] || fail "resume after a skipped handler: $(cat ran)"

# 4. kill -9 during step two: no handler ran, the resume goes on (after the killed run is committed).
signal_in_two KILL
rm -f SLOW; touch FIXED
run 0 --resume
[ "$(cat ran)" = "$(printf 'one\ntwo\ntwo\nthree')" ] || fail "resume after kill -9: $(cat ran)"

# 5. Ctrl-C during step two: the handler runs (exit 130), so the resume is refused.
signal_in_two INT
[ "$rc" = 130 ] || fail "Ctrl-C: exit $rc"
grep -q undo-one ran || fail "Ctrl-C: the handler did not run"
rm -f SLOW; touch FIXED
run 2 --resume
grep -q "the failure handler ran in run $(last)" err || fail "resume after Ctrl-C: not refused"
# A new run with --from is not a resume: allowed.
run 0 --from two
echo "resume after a handler ok"
