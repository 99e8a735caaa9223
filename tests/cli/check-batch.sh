#!/usr/bin/env bash
# check gives shellcheck many blocks at once (toolbatch.h): 450 shell blocks
# with and without findings, in two dialects and with allow= ids, take a few
# shellcheck processes, not 450; each finding is still at its runbook line
# and column with its rule, allow= still silences its id in its block only,
# and the findings are those of one shellcheck per block. A shellcheck that
# crashes, or is killed, fails only its own group: each of its blocks says
# "shellcheck not run", nothing is remembered as clean. Without a place for
# the temporary files, each block goes on stdin as before.
set -euo pipefail
bin=$(realpath "$1")
command -v shellcheck > /dev/null || { echo "check-batch: no shellcheck: skipped"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cd "$work"
mkdir tools
real_sc=$(command -v shellcheck)
for t in bash sh; do ln -s "$(command -v $t)" tools/$t; done
# A shellcheck that logs each start and its number of files.
printf '#!/bin/sh\necho "$#" >> %s/calls\nexec %s "$@"\n' "$work" "$real_sc" > tools/shellcheck
chmod +x tools/shellcheck
python3 - > many.md <<'PY'
print("# Many\n")
for i in range(450):
    if i % 3 == 0:
        print(f"```bash\necho {i} $UNQUOTED_{i}\n```\n")          # SC2086
    elif i % 3 == 1:
        print(f"```sh {{allow=SC2086}}\necho {i} $QUIET_{i}\n```\n")  # silenced
    else:
        print(f"```bash\nls /tmp/{i} | wc -l\n```\n")              # SC2012
PY
rc=0
env PATH="$work/tools" RUNBOOK_CACHE_DIR=off "$bin" check --json many.md > batch.json 2> err || rc=$?
[ "$rc" = 0 ] || { cat err; fail "check: exit $rc"; }
starts=$(wc -l < calls)
[ "$starts" -le 6 ] || fail "$starts shellcheck processes for 450 blocks"
# The same findings as one shellcheck per block, block by block, at the runbook's places.
python3 - many.md batch.json "$real_sc" <<'PY'
import json, re, subprocess, sys
md, got_path, sc = sys.argv[1:]
got = json.load(open(got_path))
got = got["diagnostics"] if isinstance(got, dict) and "diagnostics" in got else got
got = sorted((d["line"], d["col"], d.get("rule"), d["message"]) for d in got if str(d.get("rule", "")).startswith("SC"))
want = []
lines = open(md).read().split("\n")
i = 0
while i < len(lines):
    m = re.match(r"```(bash|sh)( \{allow=(SC\d+)\})?$", lines[i])
    if not m:
        i += 1; continue
    start = i + 2  # the body's first line
    j = i + 1
    while lines[j] != "```":
        j += 1
    body = "\n".join(lines[i + 1:j]) + "\n"
    args = [sc, "-f", "gcc", "-s", m.group(1)] + (["-e", m.group(3)] if m.group(3) else []) + ["-"]
    out = subprocess.run(args, input=body, capture_output=True, text=True).stdout
    for l in out.splitlines():
        f = re.match(r"-:(\d+):(\d+): [a-z]+: (.*)$", l)
        rule = re.search(r"\[(SC\d+)\]$", f.group(3)).group(1)
        want.append((start + int(f.group(1)) - 1, int(f.group(2)), rule, "shellcheck: " + f.group(3)))
    i = j + 1
want.sort()
if got != want:
    print("batched findings differ from one shellcheck per block:")
    print("only batched:", [x for x in got if x not in want][:5])
    print("only per block:", [x for x in want if x not in got][:5])
    sys.exit(1)
if not any(r == "SC2086" for _, _, r, _ in got) or not any(r == "SC2012" for _, _, r, _ in got):
    sys.exit("expected SC2086 and SC2012 findings")
if len(got) != 300:
    sys.exit(f"{len(got)} findings, expected 300 (150 SC2086, 150 SC2012)")
PY
# No temporary directory to write the blocks to: each block on stdin, as one shellcheck per block would, same findings.
env PATH="$work/tools" RUNBOOK_CACHE_DIR=off TMPDIR="$work/none" "$bin" check many.md > out 2>&1 || true
[ "$(grep -c 'shellcheck:' out)" = 300 ] && ! grep -q 'not run' out || fail "without a temporary directory: $(grep -c 'shellcheck:' out) findings"
[ "$(wc -l < calls)" -ge 450 ] || fail "without a temporary directory: blocks not given one by one"
# A shellcheck killed in the middle: its blocks are not checked, and nothing is kept as clean.
printf '#!/bin/sh\nkill -9 $$\n' > tools/shellcheck
rc=0
env PATH="$work/tools" RUNBOOK_CACHE_DIR="$work/cache" "$bin" check many.md > out 2>&1 || rc=$?
[ "$(grep -c 'shellcheck not run' out)" = 450 ] || { tail -3 out; fail "a killed shellcheck: not every block said so"; }
# Now logging how many blocks (files) each start is given.
printf '#!/bin/sh\nn=0; for a; do case $a in /*) n=$((n+1));; esac; done; echo $n >> %s/calls2\nexec %s "$@"\n' \
  "$work" "$real_sc" > tools/shellcheck
env PATH="$work/tools" RUNBOOK_CACHE_DIR="$work/cache" "$bin" check many.md > out 2>&1 || true
[ "$(grep -c 'shellcheck:' out)" = 300 ] || fail "after the killed shellcheck: not every finding"
[ "$(paste -sd+ calls2 | bc)" = 450 ] || fail "after the killed shellcheck, $(paste -sd+ calls2 | bc) blocks checked again, expected 450"
# And now the clean ones are remembered: a third check gives shellcheck only the 300 with findings.
env PATH="$work/tools" RUNBOOK_CACHE_DIR="$work/cache" "$bin" check many.md > out 2>&1 || true
total=$(paste -sd+ calls2 | bc)
[ "$total" = 750 ] || fail "the third check gave shellcheck $(( total - 450 )) blocks, expected 300 (the clean 150 remembered)"
echo "check-batch ok ($starts shellcheck processes for 450 blocks)"
