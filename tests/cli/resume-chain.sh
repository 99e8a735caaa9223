#!/usr/bin/env bash
# Resume you can trust. A run fails at step 4 of 5, its resume fails there
# again, a third run (resumed) is killed with kill -9 in the middle of step
# 4, and a fourth finishes: steps 1-3 ran exactly once across them all (marker
# files and a counter table say so), the capture of step 2 of the first run
# reaches step 5 of the last, and each run names the one it continues (journal,
# record, trailer; log and show display the chain). plan --resume previews
# the chain (golden: resume-chain.expected) touching nothing. Refusals: nothing
# to resume, no earlier run, another database, a changed runbook (--force
# lists every edit of the chain). A step passed over by when= is not run again.
set -euo pipefail
. "$(dirname "$0")/lib/kept.sh"
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
unset RUNBOOK_AUDIT_REPO
dir=$(mktemp -d)
chmod 755 "$dir"
server_pid=
run_pid=
cleanup() {
  [ -n "$run_pid" ] && kill -9 "$run_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && sleep 0.5
  rm -rf "$dir" "${server_dir:-/nonexistent-dir}"
  return 0
}
trap cleanup EXIT
cd "$dir"
audit=$dir/audit
fail() { echo "FAIL: $*"; echo "--- out"; cat out 2>/dev/null; echo "--- err"; cat err 2>/dev/null; exit 1; }
run() { # run EXPECTED-EXIT ARGS...: runbook run on the audit repository
  local want=$1 rc=0; shift
  "$bin" run --audit-repo "$audit" "$@" > out 2> err || rc=$?
  [ "$rc" = "$want" ] || fail "run $*: expected exit $want, got $rc"
}
trailer() { git -C "$audit" log -1 --format="%(trailers:key=$1,valueonly)" "$2" | sed '/^$/d'; }
last_run() { trailer Run refs/heads/runbook-audit; }
record_of() { # record_of RUN FILE
  git -C "$audit" show "refs/heads/runbook-audit:runs/${1:0:4}/${1:4:2}/${1:6:2}/${1:9}/$2"
}

# One server for the whole test: runs resume across it.
printf '# Server\n\n```bash\necho up\n```\n' > up.md
"$bin" run --ephemeral-db --keep-db --no-audit up.md > server.out 2>&1 || { cat server.out; fail "no server"; }
kept_server server.out || { cat server.out; fail "no server"; }
server_pid=$pid server_dir=$srv
psql "$url" -XAtqc "create table counter(step text); create table fixed(x int); create table slow(secs int)"
sql() { psql "$url" -XAtqc "$1"; }

cat > chain.md <<'MD'
# Chain

```bash {name=one}
echo one >> marks
psql "$CHAIN_DB" -XAtqc "insert into counter values ('one')"
```

```bash {name=two capture=BUILD}
echo two >> marks
psql "$CHAIN_DB" -XAtqc "insert into counter values ('two')"
echo build-42
```

```sql {name=three}
INSERT INTO counter VALUES ('three');
```

```sql {name=four}
SELECT pg_sleep(coalesce((SELECT max(secs) FROM slow), 0));
SELECT 1 / (SELECT count(*)::int FROM fixed) AS fixed;
```

```bash {name=five}
echo five >> marks
echo "five sees $BUILD"
```
MD

# 1. Fails at four; the resume fails there again.
run 1 --db "$url" --set "CHAIN_DB=$url" chain.md
r1=$(last_run)
run 1 --db "$url" --resume chain.md
r2=$(last_run)
grep -q "^Resuming run $r1 at step 'four' (2 values restored)" out || fail "run 2 does not continue run 1 at four"
[ "$(trailer Resumes refs/heads/runbook-audit)" = "$r1" ] || fail "run 2 has no Resumes trailer"
[ -z "$(trailer Resumes refs/heads/runbook-audit~1)" ] || fail "run 1 claims to resume something"

# 2. The preview of the chain: golden, ids, the server's socket and the URL normalised.
norm() {
  sed -e "s/$r1/RUN1/g" -e "s/$r2/RUN2/g" -e "s/${r3:-RUN3-unset}/RUN3/g" -e "s|$url|URL|g" -e "s|$dir|DIR|g" \
      -e "s|host=[^ ]* port=[0-9]*|host=SOCKET port=PORT|g"
}
"$bin" plan --audit-repo "$audit" --resume chain.md > out 2> err || fail "plan --resume failed"
sed -n '/^Resume:/,/^$/p' out | norm > preview
diff -u "$here/resume-chain.expected" preview || fail "plan --resume differs from resume-chain.expected"
"$bin" run --dry-run --audit-repo "$audit" --resume --db "$url" chain.md > out 2> err || fail "run --dry-run --resume failed"
sed -n '/^Resume:/,/^$/p' out | norm | diff -u "$here/resume-chain.expected" - || fail "run --dry-run --resume differs"
[ "$(last_run)" = "$r2" ] || fail "the preview committed a run"
[ -z "$(ls "$audit/runbook/journal/" 2>/dev/null)" ] || fail "the preview left a journal"

# 3. A resumed run killed with kill -9 in the middle of step four (a statement running).
sql "insert into slow values (60)"
"$bin" run --audit-repo "$audit" --db "$url" --resume chain.md > out 2> err &
run_pid=$!
active() { sql "select count(*) from pg_stat_activity where query like 'SELECT pg_sleep(coalesce(%' and state = 'active'"; }
for _ in $(seq 100); do [ "$(active)" = 1 ] && break; sleep 0.1; done
[ "$(active)" = 1 ] || fail "step four never started in run 3"
kill -9 "$run_pid"; wait "$run_pid" 2>/dev/null || true
run_pid=
r3=$(ls "$audit/runbook/journal/" | sed -n 's/\.log$//p')
[ -n "$r3" ] || fail "the killed run left no journal"
sql "delete from slow"

# The preview reads the killed run where it is and commits nothing.
"$bin" plan --audit-repo "$audit" --resume chain.md > out 2> err || fail "plan --resume after the kill failed"
grep -qx "    run 3  $r3  interrupted at four (exit none) (killed; not committed yet: the next run commits it)" out \
  || fail "the preview does not show the killed run"
grep -q "^  to check: backend pid [0-9]* (step 'four') not checked: that needs the database, left by run 3$" out \
  || fail "the preview does not list the killed run's backend"
[ -e "$audit/runbook/journal/$r3.log" ] || fail "the preview committed the killed run"

# 4. Another database is refused (exit 5, one line), whether named or throwaway.
other=$(sed 's|@/postgres?|@/template1?|' <<< "$url")
[ "$other" != "$url" ] || fail "cannot make another database's URL from $url"
run 5 --db "$other" --resume chain.md
grep -q "runbook: committed the interrupted run $r3" err || fail "the next invocation did not recover run 3"
tail -1 err | grep -q "^chain.md: --resume: run 1 of the chain ($r1) used host=.* dbname=postgres user=postgres for the default connection, and this run would use .*dbname=template1.* (--db): resume against the chain's database, or anyway with --force$" \
  || fail "another database: the refusal"
[ "$(grep -c 'dbname=template1' err)" = 1 ] || fail "the refusal is not one line"
run 5 --ephemeral-db --resume chain.md
grep -q "this run would use a throwaway server (--ephemeral-db), a new and empty database" err || fail "--ephemeral-db is not refused"
[ "$(last_run)" = "$r3" ] || fail "a refused resume was recorded"
md3=$(record_of "$r3" record.md)
grep -q "^> survivor candidate: backend pid [0-9]* (step 'four') not checked: that needs the database$" <<< "$md3" \
  || fail "the recovered record does not name the backend"
grep -q -- "^- \*\*Database backend pid:\*\* [0-9]*$" <<< "$md3" || fail "the recovered record lacks the backend pid"
[ "$(trailer Resumes refs/heads/runbook-audit)" = "$r2" ] || fail "the recovered run 3 does not name run 2"

# 5. Fixed: the chain finishes; one, two and three ran once in all, two's capture reached five.
# (The server cancels the killed run's statement within client_connection_check_interval,
# 1 s: a resume sooner is refused, as survivors.sh checks; here it waits for that.)
for _ in $(seq 50); do [ "$(active)" = 0 ] && break; sleep 0.1; done
sql "insert into fixed values (1)"
run 0 --db "$url" --resume chain.md
r4=$(last_run)
grep -q "^Resuming run $r3 at step 'four'" out || fail "run 4 does not continue run 3"
grep -qx "    run 1  $r1  failed at four (exit 1)" out && grep -qx "    run 3  $r3  interrupted at four (exit none)" out \
  || fail "run 4 does not show the chain"
grep -qx "    BUILD=build-42  (captured by step 'two' in run 1)" out || fail "run 4 does not restore BUILD from run 1"
grep -qx 'five sees build-42' out || fail "step five did not get step two's capture"
[ "$(cat marks)" = "$(printf 'one\ntwo\nfive')" ] || fail "marker files: $(cat marks)"
[ "$(sql "select step || '=' || count(*) from counter group by step order by step" | tr '\n' ' ')" = "one=1 three=1 two=1 " ] \
  || fail "counter: $(sql "select step, count(*) from counter group by step")"
[ "$(trailer Resumes refs/heads/runbook-audit)" = "$r3" ] || fail "run 4 has no Resumes trailer"
record_of "$r4" record.json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["resumes"] == sys.argv[1] and d["run"]["resumes"] == sys.argv[1] and d["run"]["chain"] == sys.argv[2], d["run"]
note = [n for n in d["notes"] if n["text"] == "resumed run"][0]
assert note["resumes"] == sys.argv[1] and note["from"] == "four", note
assert "BUILD" in note["restored"].split() and "CHAIN_DB" in note["restored"].split(), note
assert [s["id"] for s in d["steps"]] == ["four", "five"], d["steps"]
' "$r3" "$r1" || fail "record.json of run 4"
grep -qx -- "- \*\*Resumes run:\*\* \`$r3\`" <(record_of "$r4" record.md) || fail "record.md of run 4 lacks the Resumes line"

# show displays the chain from any run of it; log marks the resumed runs.
"$bin" show --audit-repo "$audit" "$r2" > out || fail "show failed"
sed -n '/^## Resume chain$/,$p' out | norm > chain
cat > want <<'MD'
## Resume chain

| # | run | result | steps run |
|---|---|---|---|
| 1 | `RUN1` | failed at four (exit 1) | one ok, two ok, three ok, four failed |
| 2 | `RUN2` (this run) | failed at four (exit 1) | four failed |
| 3 | `RUN3` | interrupted at four (exit none) | four interrupted |
MD
sed -n '1,7p' chain | diff -u want - || fail "show: the chain"
grep -q "^| 4 | \`$r4\` | succeeded (2 steps, .*) | four ok, five ok |$" chain || fail "show: the last run of the chain"
"$bin" log --audit-repo "$audit" chain.md > out
grep -q "  $r4  Chain: succeeded .*  resumes $r3$" out && grep -q "  $r2  Chain: failed at four (exit 1)  .*  resumes $r1$" out \
  || fail "log does not mark the resumed runs"
grep -q "  $r1  .*resumes" out && fail "log marks the first run as resumed"
echo "a chain of four runs, one killed, runs each step once"

# 6. Refusals, one line each: nothing to resume (exit 2), no earlier run (exit 2).
run 2 --db "$url" --resume chain.md
[ "$(cat err)" = "chain.md: --resume: the last run ($r4) succeeded: nothing to resume (run it again without --resume)" ] \
  || fail "nothing to resume: the refusal"
printf '# Fresh\n\n```bash\necho fresh\n```\n' > fresh.md
run 2 --resume fresh.md
grep -qx "fresh.md: --resume: no earlier run of this runbook on refs/heads/runbook-audit: run it without --resume" err \
  || fail "no earlier run: the refusal"

# 7. A runbook changed since the chain began is refused (exit 2); --force lists every edit.
cat > edit.md <<'MD'
# Edit

```bash {name=a}
echo a >> edit-marks
```

```bash {name=b}
test -e edit-fixed
```
MD
h1=$(git hash-object edit.md)
run 1 edit.md
e1=$(last_run)
run 1 --resume edit.md
echo '<!-- edit 1 -->' >> edit.md
h2=$(git hash-object edit.md)
run 2 --resume edit.md
[ "$(cat err)" = "edit.md: --resume: the runbook changed since run $e1 started this chain (content ${h1:0:7}, now ${h2:0:7}): check the edits (runbook plan --resume lists them), then resume anyway with --force" ] \
  || fail "changed runbook: the refusal"
rc=0; "$bin" plan --audit-repo "$audit" --resume edit.md > out 2> err || rc=$?
[ "$rc" = 2 ] || fail "plan --resume of a changed runbook: expected 2, got $rc"
grep -qx "  content: ${h1:0:7} in run 1, 2; now ${h2:0:7} (changed since the chain's first run)" out \
  || fail "plan --resume does not list the edit"
run 1 --resume --force edit.md
grep -qx "runbook: warning: --force: resuming although the runbook changed since run $e1 started this chain (content ${h1:0:7}, now ${h2:0:7})" err \
  || fail "--force does not warn"
echo '<!-- edit 2 -->' >> edit.md
h3=$(git hash-object edit.md)
run 0 --dry-run --resume --force edit.md
grep -qx "  content: ${h1:0:7} in run 1, 2; ${h2:0:7} in run 3; now ${h3:0:7} (changed since the chain's first run)" out \
  || fail "--force does not list every edit of the chain"
touch edit-fixed
run 0 --resume --force edit.md
[ "$(cat edit-marks)" = a ] || fail "step a ran again: $(cat edit-marks)"
grep -q '"text": "resumed with --force"' <(record_of "$(last_run)" record.json) || fail "the forced resume is not recorded"
echo "refusals: nothing to resume, no earlier run, another database, a changed runbook"

# 8. A step passed over (when= false) counts as done: the resume goes on after the last success.
cat > when.md <<'MD'
# When

```bash {name=a}
echo a >> when-marks
```

```bash {name=b when="false"}
echo b >> when-marks
```

```bash {name=c}
echo c >> when-marks
```

```bash {name=d}
test -e when-fixed
```
MD
run 1 when.md
touch when-fixed
run 0 --resume when.md
grep -q "^Resuming run .* at step 'd'" out || fail "the resume does not start after the last success"
grep -qx "    b  not run in this chain (passed: a later step succeeded)" out || fail "the passed step is not shown"
[ "$(cat when-marks)" = "$(printf 'a\nc')" ] || fail "when.md: $(cat when-marks)"
echo "a step passed over is not run again"
