#!/usr/bin/env bash
# The JSON events (`runbook run --events FILE|- [--events-output]`,
# docs/events.md):
#  1. golden streams of the fixture runs in tests/cli/events/ (NAME.md, run
#     with an audit record; the stream normalised by jq -- times, run ids,
#     durations, process ids, the operator -- and compared to NAME.jsonl;
#     RB_GOLDEN_UPDATE=1 rewrites them): a success, a failure with an
#     on_failure handler, a gate that says no (exit 3), an abort condition
#     that fires (exit 4), a retry that succeeds on the second attempt;
#  2. every line is one complete JSON object with the schema version, an
#     ISO 8601 UTC time with milliseconds, the run id of the audit record;
#  3. --events -: stdout holds only JSON lines, people's output is on stderr
#     (an interactive step's too);
#  4. --events-output: the steps' output in chunks (stdout and stderr), none
#     without it; bytes that are not UTF-8 become U+FFFD, a character cut by
#     a chunk boundary is whole;
#  5. secrets (--set, front matter secrets:) never appear in the stream;
#  6. a path that cannot be created: exit 5 before anything runs; a write
#     that fails (/dev/full): exit 5 with the path and the reason;
#  7. a SQL failure on a throwaway server (--ephemeral-db): its SQLSTATE in
#     step_end, the statements as sql events.
set -euo pipefail
bin=$1
src=$(cd "$(dirname "$0")/events" && pwd)
dir=$(mktemp -d)
chmod 755 "$dir"
trap 'rm -rf "$dir"' EXIT
cd "$dir"
export RUNBOOK_AUDIT_REPO=$dir/audit
fail() { echo "$*"; echo "--- out"; cat out 2>/dev/null; echo "--- err"; cat err 2>/dev/null; exit 1; }

# What changes from run to run, replaced by placeholders.
normalise='.time = "TIME"
  | if .run_id then .run_id = "RUN_ID" else . end
  | if has("duration_ms") then .duration_ms = "MS" else . end
  | if has("pid") then .pid = "PID" else . end
  | if has("who") then .who = "WHO" else . end'

# Each line a whole JSON object: as many objects as lines, each with the common fields.
check_lines() { # check_lines FILE
  local lines objects
  lines=$(wc -l < "$1")
  objects=$(jq -c . < "$1" | wc -l) || fail "$1: not JSON"
  [ "$lines" -gt 0 ] || fail "$1: empty"
  [ "$lines" = "$objects" ] || fail "$1: $lines lines but $objects JSON values"
  [ -z "$(tail -c 1 "$1")" ] || fail "$1: the last line has no newline"
  jq -s -e 'all(.[]; type == "object" and .schema == 1 and (.event | type == "string")
    and (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"))
    and has("run_id"))' "$1" > /dev/null || fail "$1: a line without the common fields"
  jq -r .event "$1" >> "$dir/seen-events"
}

# 0 when some event of FILE satisfies the jq condition (jq 1.6's -e looks at the last input only).
has_event() { # has_event FILE CONDITION
  jq -s -e "any(.[]; $2)" "$1" > /dev/null
}

# 1, 2. The golden streams.
update=${RB_GOLDEN_UPDATE:-}
for spec in success:0 failure:1 gate:3 abort:4 retry:0; do
  name=${spec%%:*} want=${spec#*:}
  rm -rf "case" && mkdir "case" && cp "$src/$name.md" "case/"
  rc=0; (cd "case" && "$bin" run --events ../events.json "$name.md") > out 2> err || rc=$?
  [ "$rc" = "$want" ] || fail "$name: expected exit $want, got $rc"
  check_lines events.json
  run=$(jq -r 'select(.event == "run_start") | .run_id' events.json)
  [[ $run == ????????T??????Z-* ]] || fail "$name: run_id '$run' is not a run id"
  cat out err | grep -q "$(echo "$run" | sed -E 's/^(....)(..)(..)T(......Z)-/\1\/\2\/\3\/\4-/')" \
    || fail "$name: run_id $run is not the recorded run"
  [ "$(jq -r .run_id events.json | sort -u)" = "$run" ] || fail "$name: the run id changes"
  jq -c "$normalise" events.json > actual.jsonl
  if [ "$update" = 1 ]; then
    cp actual.jsonl "$src/$name.jsonl"
  elif ! diff -u "$src/$name.jsonl" actual.jsonl > diff; then
    cat diff; fail "$name: the event stream differs from tests/cli/events/$name.jsonl"
  fi
done

# Without a record: run_id is null on every line.
cp "$src/success.md" .
"$bin" run --no-audit --events ev.json success.md > out 2> err || fail "--no-audit run failed"
[ "$(jq -r .run_id ev.json | sort -u)" = null ] || fail "run_id is not null without a record"

# 3. --events -: only JSON on stdout, people's output on stderr.
cp "$src/failure.md" .
events_on_stdout() { # events_on_stdout AUDIT-OPTION: failure.md with --events -
  local audit=$1 rc=0
  "$bin" run $audit --events - failure.md > out 2> err || rc=$?
  [ "$rc" = 1 ] || fail "--events - $audit: expected exit 1, got $rc"
  grep -v '^{' out > other && fail "--events - $audit: stdout has lines that are not events: $(cat other)"
  check_lines out
  has_event out '.event == "step_end" and .status == "failed" and (.step.id == "migrate")' \
    || fail "--events - $audit: no failed step_end for migrate"
  grep -q '^\[2/3\] Failure › migrate (bash)$' err || fail "--events - $audit: the step header is not on stderr"
  grep -q '^Stopped (exit 1)' err || fail "--events - $audit: the summary is not on stderr"
  grep -q '"event":"step_output"' out && fail "--events - $audit: output chunks without --events-output"
  return 0
}
events_on_stdout --no-audit

# 4. --events-output: the chunks, by stream; none without it.
"$bin" run --no-audit --events ev.json --events-output failure.md > out 2> err || true
check_lines ev.json
[ "$(jq -r 'select(.event == "step_output" and .step.id == "migrate" and .stream == "stdout") | .data' ev.json)" \
  = migrating ] || fail "--events-output: the stdout chunk of migrate"
[ "$(jq -r 'select(.event == "step_output" and .step.id == "migrate" and .stream == "stderr") | .data' ev.json)" \
  = "cannot migrate" ] || fail "--events-output: the stderr chunk of migrate"
[ "$(jq -r 'select(.event == "step_output") | .step.id' ev.json | sort -u | tr '\n' ' ')" = "first migrate rollback " ] \
  || fail "--events-output: chunks of the wrong steps"
# Output that is not UTF-8: NUL and bad bytes are U+FFFD; a character written in two halves is whole,
# in one chunk; one that is never finished is U+FFFD.
cat > bytes.md <<'MD'
# Bytes

```bash {name=bad}
printf 'a\0b \377\376 ok\n'
```

```bash {name=halves}
printf 'caf\303'; sleep 0.3; printf '\251\n'
printf '\342\202' >&2; sleep 0.3; printf 'x\n' >&2
```
MD
"$bin" run --no-audit --events ev.json --events-output bytes.md > out 2> err || fail "bytes.md failed"
check_lines ev.json
[ "$(jq -r 'select(.event == "step_output" and .step.id == "bad") | .data' ev.json)" = $'a\uFFFDb \uFFFD\uFFFD ok' ] \
  || fail "bytes that are not UTF-8: $(grep '"bad"' ev.json)"
[ "$(jq -j 'select(.event == "step_output" and .step.id == "halves" and .stream == "stdout") | .data' ev.json)" \
  = $'caf\u00e9' ] || fail "a character cut in two: $(grep '"halves"' ev.json)"
has_event ev.json '.step.id == "halves" and .stream == "stdout" and (.data | contains("\ufffd"))' \
  && fail "a character cut in two became U+FFFD: $(grep '"halves"' ev.json)"
has_event ev.json '.event == "step_output" and .data == ""' && fail "an empty chunk: $(grep '"halves"' ev.json)"
[ "$(jq -j 'select(.event == "step_output" and .step.id == "halves" and .stream == "stderr") | .data' ev.json)" \
  = $'\uFFFD\uFFFDx' ] || fail "an unfinished character: $(grep '"halves"' ev.json)"
# Output streams: 4 MiB arrive whole, as many lines as they came (not gathered into one).
printf '# Big\n\n```bash {name=big}\nhead -c 4194304 /dev/zero | tr "\\\\0" x\n```\n' > big.md
"$bin" run --no-audit --events ev.json --events-output big.md > /dev/null 2> err || fail "big.md failed"
check_lines ev.json
[ "$(jq -j 'select(.event == "step_output") | .data' ev.json | wc -c)" = 4194304 ] || fail "4 MiB of output: bytes lost"
[ "$(grep -c '"event":"step_output"' ev.json)" -gt 8 ] || fail "4 MiB of output in a few lines: accumulated?"

# 5. Secrets never appear, with or without the output.
cat > secret.md <<'MD'
---
secrets: [API_TOKEN]
env:
  API_TOKEN: tok-9f8e7d6c5b4a
---
# Secrets

```bash {name=show}
echo "password is $DB_PASSWORD"
echo "token is $API_TOKEN" >&2
echo "token again: tok-9f8e7d6c5b4a"
```

```bash {name=leak capture=LEAKED}
echo "pw-s3cr3t-4711"
```

```lua {name=lua-log}
log("the token " .. vars.API_TOKEN .. " and " .. vars.DB_PASSWORD)
```

```bash {name=boom}
echo "failing with pw-s3cr3t-4711 tok-9f8e7d6c5b4a" >&2
exit 1
```
MD
for opt in "" --events-output; do
  rc=0; "$bin" run --set DB_PASSWORD=pw-s3cr3t-4711 --events ev.json $opt secret.md > out 2> err || rc=$?
  [ "$rc" = 1 ] || fail "secrets $opt: expected exit 1, got $rc"
  check_lines ev.json
  grep -q 'pw-s3cr3t-4711\|tok-9f8e7d6c5b4a' ev.json && fail "secrets $opt: a secret in the events: $(grep -n 's3cr3t\|tok-9' ev.json)"
  has_event ev.json '.event == "var" and .name == "DB_PASSWORD" and (.value | test("s3cr3t") | not)' \
    || fail "secrets $opt: no var event for DB_PASSWORD"
  has_event ev.json '.event == "step_end" and .step.id == "boom" and (.output | contains("failing with"))' \
    || fail "secrets $opt: the failed step's output is not in its step_end"
  has_event ev.json '.event == "log" and (.message | startswith("the token "))' \
    || fail "secrets $opt: no log event"
done
has_event ev.json '.event == "step_output" and .step.id == "show" and (.data | contains("password is "))' \
  || fail "secrets --events-output: no output chunk of the step that prints them"

# 6. A path that cannot be created: exit 5, before anything runs.
printf '# Touch\n\n```bash\ntouch RAN\n```\n' > touch.md
unwritable() { # unwritable AUDIT-OPTION
  local audit=$1 rc=0
  rm -f RAN
  "$bin" run $audit --events "$dir/no/such/dir/ev.json" touch.md > out 2> err || rc=$?
  [ "$rc" = 5 ] || fail "unwritable --events $audit: expected exit 5, got $rc"
  grep -q "$dir/no/such/dir/ev.json: .*No such file or directory" err || fail "unwritable --events $audit: no message naming it"
  [ -e RAN ] && fail "unwritable --events $audit: the step ran"
  [ -s out ] && fail "unwritable --events $audit: something ran: $(cat out)"
  return 0
}
unwritable --no-audit
# A write that fails: the run goes on, its exit is 5, the message names the file and why.
if [ -w /dev/full ]; then
  rc=0; "$bin" run --no-audit --events /dev/full touch.md > out 2> err || rc=$?
  [ "$rc" = 5 ] || fail "--events /dev/full: expected exit 5, got $rc"
  grep -q -- '--events /dev/full: .*No space left on device' err || fail "--events /dev/full: no message"
  [ -e RAN ] || fail "--events /dev/full: the step did not run"
fi

# 7. A SQL failure: its SQLSTATE in step_end, each statement sent and done.
cat > sql.md <<'MD'
# SQL

```sql {name=create}
CREATE TABLE t (id int primary key);
INSERT INTO t VALUES (1);
```

```sql {name=dup}
INSERT INTO t VALUES (1);
```
MD
rc=0; "$bin" run --no-audit --ephemeral-db --events ev.json sql.md > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "sql: expected exit 1, got $rc"
check_lines ev.json
[ "$(jq -r 'select(.event == "step_end" and .step.id == "dup") | "\(.status) \(.sqlstate)"' ev.json)" = "failed 23505" ] \
  || fail "sql: no SQLSTATE in step_end: $(grep '"step_end"' ev.json)"
[ "$(jq -r 'select(.event == "sql" and .step.id == "create") | "\(.status) \(.statement) \(.tag)"' ev.json)" = \
"sent CREATE TABLE t (id int primary key) null
ok CREATE TABLE t (id int primary key) CREATE TABLE
sent INSERT INTO t VALUES (1) null
ok INSERT INTO t VALUES (1) INSERT 0 1" ] || fail "sql: the statements: $(grep '"sql"' ev.json)"
has_event ev.json '.event == "database" and (.target | test("dbname="))' || fail "sql: no database event"
# Every event the runs above wrote is documented in docs/events.md's table.
doc=$src/../../../docs/events.md
for e in $(sort -u "$dir/seen-events"); do
  grep -q "^| \`$e\` |" "$doc" || fail "docs/events.md does not document the event '$e'"
done
[ "$(sort -u "$dir/seen-events" | wc -l)" -ge 18 ] || fail "fewer kinds of events than expected: $(sort -u "$dir/seen-events")"

# Last, with the audit record: a run refused for its --events path leaves no run behind
# (the next run finds nothing interrupted to commit) ...
unwritable ""
"$bin" run --events ev.json success.md > out 2> err || fail "the run after the refused one failed"
grep -i 'interrupted' err && fail "the run refused for --events was left as an interrupted run"
# ... and --events - keeps stdout for the events (3, again), an interactive step's output included.
events_on_stdout ""
# A step given the terminal (interactive) writes to stderr too, not into the stream.
printf '# Interactive\n\n```bash {name=talk interactive}\necho from-the-step\n```\n' > interactive.md
# (standard input a terminal, as an interactive step needs; stdout and stderr still files)
python3 -c 'import os, pty, subprocess, sys
m, s = pty.openpty()
sys.exit(subprocess.call(sys.argv[1:], stdin=s))' "$bin" run --no-audit --events - interactive.md > out 2> err \
  || fail "interactive.md failed: $(cat err)"
grep -v '^{' out > other && fail "--events - with an interactive step: stdout has lines that are not events: $(cat other)"
grep -q 'from-the-step' err || fail "--events -: the interactive step's output is not on stderr"
check_lines out
# Without a terminal it is refused before anything runs, naming the step.
rc=0; "$bin" run --no-audit --events - interactive.md < /dev/null > out 2> err || rc=$?
[ "$rc" = 2 ] || fail "an interactive step without a terminal: expected exit 2, got $rc"
grep -q "interactive.md:3:1: .*step 'talk' is interactive: it needs a terminal" err || fail "no refusal naming the step: $(cat err)"
! grep -q 'from-the-step' out err || fail "the interactive step ran without a terminal"

echo "events: ok"
