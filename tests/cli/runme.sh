#!/usr/bin/env bash
# Runme's attributes (docs/format.md §6 "Differences from Runme"):
# background=true starts a shell step and goes on; its process group is gone
# once the run ends (success, a failure with a handler, Ctrl-C, kill -9 of
# runbook: the watchdog), its output is shown line by line with a prefix and
# kept in the record with its result. promptEnv makes a block's export lines
# inputs: --set, the environment, a terminal, or exit 2 naming them. Runme's
# runme: front matter key gives no warning.
set -euo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
unset RUNBOOK_AUDIT_REPO
dir=$(mktemp -d)
chmod 755 "$dir"
cleanup() {
  # Only the process groups this test's steps started, by their ids.
  for f in "$dir"/*.pgid; do
    [ -s "$f" ] && kill -9 -- "-$(cat "$f")" 2>/dev/null || true
  done
  rm -rf "$dir"
  return 0
}
trap cleanup EXIT
cd "$dir"
export RUNBOOK_CACHE_DIR=$dir/cache
audit=$dir/audit
fail() { echo "FAIL: $*"; echo "--- out"; cat out 2>/dev/null; echo "--- err"; cat err 2>/dev/null; exit 1; }
gone() { # gone PGID-FILE: up to 5 s until the process group has no member left
  local g; g=$(cat "$1")
  for _ in $(seq 50); do kill -0 -- "-$g" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}
# The newest record's step ID, as JSON.
step_json() { "$bin" show --audit-repo "$audit" --json | python3 -c '
import json, sys
steps = [s for s in json.load(sys.stdin)["steps"] if s["id"] == sys.argv[1]]
print(json.dumps(steps[-1]) if steps else "{}")' "$1"; }
field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1]).get(sys.argv[2], ""))' "$1" "$2"; }

# A background step that ticks, and writes its group to NAME.pgid.
server() { # server NAME
  cat <<MD
\`\`\`sh {"name":"$1","background":"true"}
echo \$\$ > $1.pgid
echo "$1 up"
echo "$1 complains" >&2
while :; do echo tick; sleep 0.05; done
\`\`\`
MD
}

# 1. Started and not waited for: the next step sees it running, its output is
#    shown as whole prefixed lines, never inside the next step's; it is
#    stopped at the end, and its output and result are in the record.
{ echo "# Background"; echo; server web; cat <<'MD'

```bash {name=probe}
for _ in $(seq 50); do [ -s web.pgid ] && break; sleep 0.1; done
kill -0 -- "-$(cat web.pgid)" && echo "probe sees web running"
printf 'half a '
sleep 0.4
echo 'line'
```
MD
} > bg.md
rc=0; "$bin" run --audit-repo "$audit" bg.md > out 2> err || rc=$?
[ "$rc" = 0 ] || fail "background run: exit $rc"
grep -q '^\[1/2\] started in the background (process group [0-9]*): not waited for' out || fail "no started line"
grep -qx 'probe sees web running' out || fail "the next step did not see the background step running"
grep -qx '\[bg web\] web up' out || fail "the background step's output is not shown with its prefix"
grep -qx '\[bg web\] web complains' err || fail "its stderr is not shown on stderr with its prefix"
grep -q '\[bg web\] tick' out || fail "its output while the next step ran is not shown"
grep '\[bg ' out err | grep -v ':\[bg ' && fail "a background line does not start a line"
grep -q "background step 'web' stopped at the end of the run after .* (exit 143)" out || fail "no stop note"
gone web.pgid || fail "the background step's group is still running after the run"
j=$(step_json web)
[ "$(field "$j" background)" = stopped ] || fail "record: background is not 'stopped': $j"
[ "$(field "$j" exit)" = 143 ] || fail "record: exit is not 143: $j"
[ "$(field "$j" status)" = ok ] || fail "record: status is not ok: $j"
kept=$(field "$j" output)
grep -qx 'web up' <<< "$kept" || fail "record: the output is not kept: $j"
grep -qx -- '--- stderr' <<< "$kept" || fail "record: stderr is not kept: $j"
shown=$("$bin" show --audit-repo "$audit")
grep -q 'stopped at the end of the run' <<< "$shown" || fail "show does not say it was stopped"
msg=$(git -C "$audit" log -1 --format=%B refs/heads/runbook-audit)
grep -q 'succeeded (2 steps' <<< "$msg" || fail "the summary counts the background step twice: $msg"
echo "a background step runs beside the next, is stopped at the end and recorded"

# 2. A later step fails: the failure handler still has it; it is stopped after.
{ printf -- '---\non_failure: cleanup\n---\n# Main\n\n'; server api; cat <<'MD'

```bash {name=boom}
for _ in $(seq 50); do [ -s api.pgid ] && break; sleep 0.1; done
exit 3
```

# Cleanup

```bash {name=look}
kill -0 -- "-$(cat api.pgid)" && echo "handler sees api running"
```
MD
} > fail.md
rc=0; "$bin" run --audit-repo "$audit" fail.md > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "failing run: expected exit 1, got $rc"
grep -qx 'handler sees api running' out || fail "the failure handler did not see the background step"
gone api.pgid || fail "the background step outlived a failed run"
[ "$(field "$(step_json api)" background)" = stopped ] || fail "failed run: background result not recorded"
echo "a failed run stops its background step after the handler"

# 3. Ctrl-C (SIGINT to runbook): exit 130, the background group is gone too.
{ echo "# Interrupt"; echo; server ctrl; printf '\n```bash {name=wait}\necho waiting\nsleep 30\n```\n'; } > int.md
"$bin" run --audit-repo "$audit" int.md > out 2> err &
pid=$!
for _ in $(seq 100); do grep -qx waiting out && [ -s ctrl.pgid ] && break; sleep 0.05; done
grep -qx waiting out || fail "the step after the background one did not start"
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 130 ] || fail "interrupted: expected exit 130, got $rc"
gone ctrl.pgid || fail "the background group outlived Ctrl-C"
echo "Ctrl-C stops the background step"

# 4. kill -9 of runbook: the watchdog stops the background group with the
#    running step's. The background step counts as done: --resume goes on
#    at the step that was cut, and does not start it again.
{ echo "# Killed"; echo; server nine; printf '\n```bash {name=hold}\necho $$ > hold.pgid\n[ -e resumed ] && { echo resumed-hold; exit 0; }\ntouch resumed\necho holding\nsleep 30\n```\n'; } > kill.md
"$bin" run --audit-repo "$audit" kill.md > out 2> err &
pid=$!
for _ in $(seq 100); do grep -qx holding out && [ -s nine.pgid ] && break; sleep 0.05; done
grep -qx holding out || fail "kill -9: the step did not start"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
gone nine.pgid || fail "the watchdog did not stop the background group after kill -9"
gone hold.pgid || fail "the watchdog did not stop the running step after kill -9"
rm -f nine.pgid
rc=0; "$bin" run --audit-repo "$audit" --resume kill.md > out 2> err || rc=$?
[ "$rc" = 0 ] || fail "--resume after kill -9: exit $rc"
grep -q "^Resuming run .* at step 'hold'" out || fail "--resume did not count the background step as done"
grep -qx resumed-hold out || fail "the cut step did not run again"
[ ! -e nine.pgid ] || fail "--resume started the background step again"
echo "kill -9: the watchdog stops it; --resume counts it done"

# 5. Ending by itself with an error: a warning and a record, not a failure.
cat > quick.md <<'MD'
# Quick

```sh {"name":"quick","background":"true"}
echo bye
exit 4
```

```bash {name=later}
sleep 0.5
echo later
```
MD
rc=0; "$bin" run --audit-repo "$audit" quick.md > out 2> err || rc=$?
[ "$rc" = 0 ] || fail "a background step's own failure failed the run (exit $rc)"
grep -q "warning: background step 'quick' ended by itself after .*: exit 4; the run goes on" err \
  || fail "no warning about the background step's exit"
j=$(step_json quick)
[ "$(field "$j" background)" = exited ] && [ "$(field "$j" exit)" = 4 ] || fail "record of an early exit: $j"
echo "a background step that fails on its own is a warning, recorded"

# 6. Only shell steps; nothing that waits for its end; the plan says it.
printf '# S\n\n```sql {background=true}\nSELECT 1;\n```\n' > sql.md
rc=0; "$bin" check sql.md > out 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q "attribute 'background' applies only to shell steps" out || fail "background on sql accepted"
printf '# L\n\n```lua {"background":"true"}\nvars.x = 1\n```\n' > lua.md
rc=0; "$bin" check lua.md > out 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q "attribute 'background' applies only to shell steps" out || fail "background on lua accepted"
printf '# C\n\n```bash {background=true capture=X}\necho x\n```\n' > cap.md
rc=0; "$bin" check cap.md > out 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q "attribute 'capture' does not apply to a background step" out || fail "capture accepted"
"$bin" plan bg.md > out 2>&1 || fail "plan failed"
grep -q 'background=true (runme: started, not waited for; stopped at the end of the run)' out \
  || fail "the plan does not show the background step"
"$bin" run --dry-run bg.md > out 2>&1 || fail "dry run failed"
grep -q 'background=true (runme: started' out || fail "the dry run does not show the background step"
echo "background: shell steps only, shown by the plan"

# 7. promptEnv: --set, the environment, refused without a terminal, asked on one.
cat > env.md <<'MD'
# Env

```sh {"name":"greet","promptEnv":"yes"}
export PROJECT="demo"
export ZONE=[Enter the zone]
echo "project=$PROJECT zone=$ZONE"
```
MD
rc=0; "$bin" run --audit-repo "$audit" --set ZONE=eu env.md > out 2> err < /dev/null || rc=$?
[ "$rc" = 0 ] || fail "promptEnv with --set: exit $rc"
grep -qx 'project=demo zone=eu' out || fail "promptEnv: --set or the default not used"
rc=0; "$bin" run --audit-repo "$audit" --set ZONE=eu --set PROJECT=given env.md > out 2> err < /dev/null || rc=$?
grep -qx 'project=given zone=eu' out || fail "promptEnv: the export line overwrote the value given"
"$bin" show --audit-repo "$audit" --json | python3 -c '
import json, sys
v = {x["name"]: x for x in json.load(sys.stdin)["variables"]}
assert v["PROJECT"]["source"] == "--set" and v["ZONE"]["source"] == "--set", v' || fail "promptEnv inputs not recorded"
rc=0; ZONE=us PROJECT=p2 "$bin" run --audit-repo "$audit" env.md > out 2> err < /dev/null || rc=$?
[ "$rc" = 0 ] && grep -qx 'project=p2 zone=us' out || fail "promptEnv: the environment not used"
rc=0; "$bin" run --audit-repo "$audit" env.md > out 2> err < /dev/null || rc=$?
[ "$rc" = 2 ] || fail "promptEnv without a terminal: expected exit 2, got $rc"
grep -q "ZONE (\[Enter the zone\]): promptEnv of step 'greet' (env.md:5)" err || fail "the refusal does not name ZONE and its step"
grep -q 'project=' out && fail "a step ran although an input was missing"
rc=0; python3 "$here/lib/ptydrive.py" 'input ' 'proj1,asia' out -- "$bin" run --audit-repo "$audit" env.md || rc=$?
[ "$rc" = 0 ] || fail "promptEnv on a terminal: exit $rc"
grep -q 'input PROJECT \[demo\]: ' out && grep -q 'input ZONE (\[Enter the zone\]): ' out || fail "the questions are not asked"
grep -q 'project=proj1 zone=asia' out || fail "the answers are not what the block sees"
"$bin" plan env.md > out 2>&1 || fail "plan of promptEnv failed"
grep -q 'promptEnv=yes (runme: inputs asked before step 1: PROJECT \[demo\], ZONE)' out || fail "the plan does not show the inputs"
echo "promptEnv: given, from the environment, refused without a terminal, asked on one"

# 8. Runme's front matter key: accepted without a warning.
printf -- '---\nrunme:\n  id: 01HF7B0KK32HBQ9X4AC2GPMZG5\n  version: v3\n---\n# R\n\n```sh\necho ok\n```\n' > fm.md
rc=0; "$bin" check fm.md > out 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "check of runme: front matter: exit $rc"
grep -qi 'runme' out && fail "runme: front matter gives a warning"
echo "runme: front matter is accepted silently"
