#!/usr/bin/env bash
# The terminal rendering of a run, on a real pseudo-terminal (100x30, driven
# by terminal-render/pty_run.py) and in pipes: colour on a terminal and not
# with NO_COLOR, --color=never or TERM=dumb; --color=always colours a pipe
# but draws no status line there; piped output is byte for byte the plain
# rendering; the live status line of a long step is drawn on the terminal
# only, never in a pipe or the audit record; a result line after output
# without a newline starts a line of its own; the summary table lists every
# step; --quiet shows only the failure and the summary; --verbose shows each
# SQL statement as sent, variables interpolated and secrets hidden.
set -euo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)/terminal-render
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
cp "$here"/*.md .
export RUNBOOK_AUDIT_REPO=$dir/audit
export TERM=xterm-256color LC_ALL=C.UTF-8
unset NO_COLOR GITHUB_ACTIONS
fail() { echo "FAIL: $*"; for f in out err; do [ -f $f ] && { echo "--- $f"; cat -v $f | head -60; }; done; exit 1; }
esc=$'\x1b'
# pty OUT ARGS...: runbook run ARGS on the terminal, everything it wrote in OUT; sets rc.
pty() { local o=$1; shift; rc=0; python3 "$here/pty_run.py" "$o" "$bin" run "$@" || rc=$?; }
plain() { sed -E "s/$esc\\[[0-9;]*m//g" "$1"; }        # without colour
times() { sed -E 's/[0-9]+\.[0-9]{3}s/N.NNNs/g' "$1"; } # durations as N.NNNs
# contains FILE BYTES: FILE holds BYTES, given with Python escapes (\n, \r, \x1b).
contains() { python3 -c 'import codecs, sys; sys.exit(codecs.escape_decode(sys.argv[2].encode())[0] not in open(sys.argv[1], "rb").read())' "$1" "$2"; }
no_escape() { ! grep -q "$esc" "$1" || fail "$2: an escape sequence was written"; }

# 1. A terminal: colour around the words runbook composes, the section path
#    dim, failures red; the summary table lists every step; a result line
#    after "no newline" starts a line of its own.
pty out --no-audit fast.md
[ "$rc" = 1 ] || fail "fast.md on a terminal: expected exit 1, got $rc"
grep -qF "[1/4] $esc[32mok$esc[0m in " out || fail "the ok of a result line is not green"
grep -qF "[3/4] $esc[31mfailed$esc[0m: exit 3 in " out || fail "the failed of a result line is not red"
grep -qF "$esc[31mfast.md:16:1: step 'bad': failed with exit code 3$esc[0m" out || fail "the error line is not red"
grep -qF "[1/4] $esc[2mDemo › Build › $esc[0mhello (bash)" out || fail "the section path is not dim"
grep -qF "[2/4] maybe $esc[33mskipped$esc[0m: when=false is false" out || fail "skipped is not yellow"
grep -qF "$esc[31mStopped (exit 1)$esc[0m: 1 ok, 1 failed, 1 skipped, 1 not run" out || fail "the summary line"
plain out > shown
grep -qx 'no newline' shown || fail "the result line is glued to output without a newline"
grep -qE '^\[1/4\] ok in [0-9.]+s$' shown || fail "the result line after 'no newline'"
grep -qE '^  step +status +time +attempts$' shown || fail "no summary table header"
grep -qE '^  \[1/4\] hello +ok +[0-9.]+s +1$' shown || fail "table row of hello"
grep -qE '^  \[2/4\] maybe +skipped$' shown || fail "table row of the skipped step"
grep -qE '^  \[3/4\] bad +failed +[0-9.]+s +1$' shown || fail "table row of the failed step"
grep -qE '^  \[4/4\] never +not run$' shown || fail "table row of the step not reached"
[ "$(tail -n 1 shown)" = "Stopped (exit 1): 1 ok, 1 failed, 1 skipped, 1 not run" ] || fail "the summary line does not follow the table"
! grep -q $'\r' out || fail "a status line was drawn for steps that took no time"

# 2. No colour on the terminal with NO_COLOR, --color=never, TERM=dumb; the table stays.
rc=0; NO_COLOR=1 python3 "$here/pty_run.py" out "$bin" run --no-audit fast.md || rc=$?
[ "$rc" = 1 ] || fail "NO_COLOR: expected exit 1, got $rc"
no_escape out "NO_COLOR=1"
grep -qE '^  \[3/4\] bad +failed +[0-9.]+s +1$' out || fail "NO_COLOR: no summary table"
pty out --no-audit --color=never fast.md
[ "$rc" = 1 ] || fail "--color=never: expected exit 1, got $rc"
no_escape out "--color=never"
grep -qx '\[1/4\] ok in [0-9.]*s' out || fail "--color=never: no result line"
rc=0; TERM=dumb python3 "$here/pty_run.py" out "$bin" run --no-audit fast.md || rc=$?
[ "$rc" = 1 ] || fail "TERM=dumb: expected exit 1, got $rc"
no_escape out "TERM=dumb"
# An empty NO_COLOR is not set (no-color.org).
rc=0; NO_COLOR= python3 "$here/pty_run.py" out "$bin" run --no-audit fast.md || rc=$?
grep -qF "$esc[32mok$esc[0m" out || fail "an empty NO_COLOR turned colour off"

# 3. Piped: byte for byte the plain rendering (durations aside), no table;
#    a result line after output that did not end a line starts a line of its own.
rc=0; "$bin" run --no-audit fast.md > out 2> err || rc=$?
[ "$rc" = 1 ] || fail "piped fast.md: expected exit 1, got $rc"
times out | cmp -s - "$here/fast.out.expected" || { diff <(times out) "$here/fast.out.expected"; fail "piped stdout differs from the plain rendering"; }
times err | cmp -s - "$here/fast.err.expected" || { diff <(times err) "$here/fast.err.expected"; fail "piped stderr differs from the plain rendering"; }
"$bin" run --no-audit slow.md > out 2> err || fail "piped slow.md failed"
times out | cmp -s - "$here/slow.out.expected" || { diff <(times out) "$here/slow.out.expected"; fail "piped slow.md differs from the plain rendering"; }
[ ! -s err ] || fail "piped slow.md wrote to stderr"

# 4. --color=always colours a pipe, but draws no status line and no table there.
"$bin" run --no-audit --color=always slow.md > out 2> err || fail "--color=always slow.md failed"
grep -qF "[2/4] $esc[32mok$esc[0m in 2." out || fail "--color=always: no colour in the pipe"
! grep -q $'\r' out || fail "--color=always: a status line reached the pipe (CR)"
! grep -qF "$esc[K" out || fail "--color=always: a status line reached the pipe (erase line)"
! grep -q '^  step ' out || fail "--color=always: a summary table in the pipe"
[ "$(plain out | tail -n 1)" = "Done: 4 ok, 0 failed" ] || fail "--color=always: the summary line"

# 5. The live status line of a step that runs 2 s: spinner, counter, id,
#    elapsed time, redrawn in place; on a line of its own after 'waiting';
#    erased before the step's output; never in the audit record.
pty out --audit-repo "$dir/audit-slow" slow.md
[ "$rc" = 0 ] || fail "slow.md on a terminal: expected exit 0, got $rc"
grep -qaE $'\r'"$esc"'\[K[^ ]+ \[2/4\] slow 0\.[5-9]s' out || fail "no status line after half a second"
grep -qaE $'\r'"$esc"'\[K[^ ]+ \[2/4\] slow 1\.[0-9]s' out || fail "the status line was not redrawn"
[ "$(grep -ao $'\r'"$esc"'\[K[^ ]* \[2/4\] slow' out | wc -l)" -ge 5 ] || fail "fewer than 5 redraws in 2 s"
! grep -qaE '\[(1|3)/4\] (quick|last) [0-9]' out || fail "a status line for a step shorter than half a second"
contains out 'waiting\n\r\x1b[K' || fail "the status line is glued to output without a newline"
contains out 's\r\x1b[K done\n' || fail "the status line is not erased before the step's output"
# Between the step's last output and its result line the status line may be
# drawn again (the step has not exited yet); the result line erases it.
matches() { python3 -c 'import re, sys; sys.exit(re.search(sys.argv[2].encode(), open(sys.argv[1], "rb").read()) is None)' "$1" "$2"; }
matches out ' done\n((\r\x1b\[K[^\r\n]*)*\r\x1b\[K)?\[2/4\] \x1b\[32mok' || fail "the result line does not follow the output, or a status line is left before it"
# A status line longer than the terminal (100 columns) is cut to 99: a wrapped one would not be erased.
python3 - out <<'PY' || fail "a status line does not fit the terminal's width"
import re, sys
data = open(sys.argv[1], "rb").read().decode()
drawn = [s.split("\n")[0] for s in re.split(r"\r\x1b\[K", data) if re.match(r"\S \[4/4\] long", s)]
sys.exit(not drawn or any(len(s) > 99 for s in drawn) or not any(len(s) == 99 for s in drawn))
PY
record=$(git -C audit-slow ls-tree -r --name-only runbook-audit | grep '/record.md$' | head -n 1)
[ -n "$record" ] || fail "no record of slow.md"
git -C audit-slow show "runbook-audit:$record" > record.md
git -C audit-slow show "runbook-audit:${record%.md}.json" > record.json
grep -q 'waiting done' record.md || fail "the record does not keep the step's output"
! grep -qE '\[2/4\] slow [0-9]' record.md record.json || fail "the status line reached the record"
! grep -q "$esc" record.md record.json || fail "an escape sequence reached the record"

# 6. --quiet: the failing step's header, the end of its output, its result
#    and error lines, the summary; nothing of the steps that went well.
pty out --no-audit --quiet fast.md
[ "$rc" = 1 ] || fail "--quiet: expected exit 1, got $rc"
plain out > shown
grep -nx '\[3/4\] Demo › Check › bad (bash)' shown > /dev/null || fail "--quiet: no header of the failing step"
grep -qx 'bad output' shown || fail "--quiet: the failing step's output is not shown"
grep -qx 'bad on stderr' shown || fail "--quiet: the failing step's stderr is not shown"
grep -qE '^\[3/4\] failed: exit 3 in [0-9.]+s$' shown || fail "--quiet: no result line of the failing step"
grep -qx "fast.md:16:1: step 'bad': failed with exit code 3" shown || fail "--quiet: no error line"
[ "$(tail -n 1 shown)" = "Stopped (exit 1): 1 ok, 1 failed, 1 skipped, 1 not run" ] || fail "--quiet: the summary line"
for gone in hello 'no newline' '\[1/4\]' '\[2/4\]' 'maybe' 'skipped:' Running never '^  step'; do
  ! grep -q "$gone" shown || fail "--quiet shows '$gone'"
done
h=$(grep -n 'bad (bash)' shown | cut -d: -f1); o=$(grep -nx 'bad output' shown | cut -d: -f1)
r=$(grep -n '^\[3/4\] failed' shown | cut -d: -f1)
[ "$h" -lt "$o" ] && [ "$o" -lt "$r" ] || fail "--quiet: header, output and result out of order"
"$bin" run --no-audit --quiet slow.md > out 2> err || fail "--quiet slow.md failed"
[ "$(cat out)" = "Done: 4 ok, 0 failed" ] || fail "--quiet: a run that went well shows more than its summary"
[ ! -s err ] || fail "--quiet: a run that went well wrote to stderr"

# 7. --verbose: each statement as sent (dim prompt), variables interpolated,
#    the secret hidden, then its command tag and time.
rc=0; DB_PASS=hunter2secret "$bin" run --no-audit --verbose --color=always --ephemeral-db sql.md > out 2> err || rc=$?
if grep -q 'PostgreSQL server binaries not found' err; then
  echo "SKIP: --verbose: no PostgreSQL server binaries to run sql.md"
else
  [ "$rc" = 0 ] || fail "--verbose sql.md: expected exit 0, got $rc"
  grep -qF "$esc[2m  sql> $esc[0m" out || fail "--verbose: the sql> prompt is not dim"
  plain out > shown
  grep -qxF '  sql> CREATE TABLE items (id int, note text)' shown || fail "--verbose: the CREATE statement as sent"
  grep -qxF "  sql> INSERT INTO items VALUES (1, '***')" shown || fail "--verbose: the INSERT statement, secret hidden"
  grep -qxE '  \(INSERT 0 1, [0-9]+ ms\)' shown || fail "--verbose: the command tag and time"
  ! grep -q hunter2secret out err || fail "--verbose: the secret was shown"
  DB_PASS=hunter2secret "$bin" run --no-audit --ephemeral-db sql.md > out 2> err || fail "sql.md without --verbose failed"
  ! grep -q 'sql>' out || fail "statements shown without --verbose"
fi
echo "terminal rendering ok"
