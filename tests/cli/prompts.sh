#!/usr/bin/env bash
# Prompted commands, console transcripts, interpreters and declared inputs
# (docs/format.md §3 "Prompts and console transcripts", "Interpreters", §6
# "Declared inputs"): what runs, what is only documented, what is asked.
set -u
bin=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
export RUNBOOK_CACHE_DIR=$dir/cache

# 1. A prompted block runs its commands (continuations, here-documents) and
#    never its documented output; the record keeps both outputs.
cat > prompted.md <<'MD'
# Prompted

```bash
$ printf '%s\n' one \
    two
one
touch output-ran
$ cat <<'EOF' > note.txt
$ not a command: here-document text
EOF
$ grep -c . note.txt
1
```
MD
"$bin" run --audit-repo "$dir/audit" prompted.md > out 2>&1 || { cat out; fail "prompted block failed"; }
grep -qx 'one' out && grep -qx 'two' out || fail "the continued command did not run whole"
[ ! -e output-ran ] || fail "a documented output line ran"
grep -q 'not a command' note.txt || fail "the here-document lost its text"
git -C audit show "runbook-audit:$(git -C audit ls-tree -r --name-only runbook-audit | grep record.md | head -1)" > record.md
grep -q 'Documented output' record.md && grep -q 'touch output-ran' record.md || fail "documented output not in the record"

# 2. Console transcripts: documentation by default, run with console: run or run=true.
printf '# C\n\n```console\n$ touch console-ran\n```\n' > console.md
"$bin" run console.md > out 2>&1 || { cat out; fail "console documentation failed"; }
[ ! -e console-ran ] || fail "a console block ran by default"
"$bin" plan console.md | grep -q 'add {run=true}' || fail "plan does not say how to run a console block"
printf -- '---\nconsole: run\n---\n# C\n\n```console\n$ touch console-ran\nsome output\n```\n' > console-run.md
"$bin" run console-run.md > out 2>&1 || { cat out; fail "console: run failed"; }
[ -e console-ran ] || fail "console: run did not run the transcript"
printf '# C\n\n```shell-session {run=true}\n$ touch session-ran\n```\n' > session.md
"$bin" run session.md > out 2>&1 && [ -e session-ran ] || { cat out; fail "run=true did not run the transcript"; }

# 3. Interpreters: zsh with its flags; fail-fast; a missing one is exit 5 before anything runs.
if command -v zsh > /dev/null; then
  printf '# Z\n\n```zsh\nprint -r -- "in zsh: ${ZSH_VERSION:+yes}"\nfalse\ntouch after-false\n```\n' > zsh.md
  "$bin" run zsh.md > out 2>&1
  [ $? = 1 ] || { cat out; fail "a failing zsh command did not fail the step"; }
  grep -q 'in zsh: yes' out || fail "the zsh block did not run in zsh"
  [ ! -e after-false ] || fail "zsh went on after a failure"
fi
printf '# M\n\n```bash\ntouch first-ran\n```\n\n```sh {interpreter=ksh93-missing}\necho x\n```\n' > missing.md
"$bin" plan missing.md > out 2>&1 && fail "an unknown interpreter was accepted"
grep -q "interpreter 'ksh93-missing' is not one" out || { cat out; fail "unknown interpreter message"; }
mkdir -p fakebin
printf '# M\n\n```bash\ntouch first-ran\n```\n\n```zsh\necho x\n```\n' > missing.md
for b in bash sh env git; do ln -sf "$(command -v $b)" fakebin/$b; done
PATH="$dir/fakebin" "$bin" run --no-audit missing.md > out 2>&1
rc=$?
[ $rc = 5 ] || { cat out; fail "a missing interpreter: expected exit 5, got $rc"; }
grep -q "needs the interpreter 'zsh'" out || { cat out; fail "the missing interpreter is not named"; }
[ ! -e first-ran ] || fail "a step ran before the missing interpreter was found"
printf '# P\n\n```python\nopen("py-ran", "w")\n```\n\n```python {run=true}\nopen("py-run-true", "w")\n```\n' > py.md
if command -v python3 > /dev/null; then
  "$bin" run py.md > out 2>&1 || { cat out; fail "python run=true failed"; }
  [ ! -e py-ran ] && [ -e py-run-true ] || fail "python blocks: only run=true may run"
fi

# 4. Declared inputs.
cat > inputs.md <<'MD'
---
inputs:
  NODE_NAME:
    description: the node
    pattern: "[a-z0-9-]+"
  API_TOKEN:
    secret: true
---
# I

```bash
$ echo "node=$NODE_NAME token-length=${#API_TOKEN}"
```
MD
"$bin" run --no-audit inputs.md < /dev/null > out 2>&1
[ $? = 2 ] || { cat out; fail "missing inputs without a terminal: expected exit 2"; }
grep -q 'NODE_NAME (the node)' out && grep -q 'API_TOKEN' out || { cat out; fail "missing inputs not listed"; }
API_TOKEN=t0k3n-value "$bin" run --no-audit --set NODE_NAME=Bad_Name inputs.md < /dev/null > out 2>&1
[ $? = 2 ] || { cat out; fail "a value refused by the pattern: expected exit 2"; }
grep -q "does not match the pattern" out || { cat out; fail "pattern refusal message"; }
API_TOKEN=t0k3n-value "$bin" run --audit-repo "$dir/audit2" --set NODE_NAME=worker-3 inputs.md < /dev/null > out 2>&1 ||
  { cat out; fail "inputs from --set and the environment"; }
grep -q 'node=worker-3 token-length=11' out || { cat out; fail "inputs did not reach the step"; }

# On a terminal: asked, the secret without echo, never recorded.
cat > ask.py <<'PY'
import os, pty, select, sys, time
binary, runbook, audit = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.execv(binary, [binary, "run", "--audit-repo", audit, runbook])
seen = b""
def wait_for(text):
    global seen
    deadline = time.time() + 20
    while text not in seen and time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                return
    if text not in seen:
        print("never saw", text, seen.decode(errors="replace")); sys.exit(2)
wait_for(b"input NODE_NAME")
os.write(fd, b"Not Valid\n")
wait_for(b"does not match")
os.write(fd, b"worker-9\n")
wait_for(b"input API_TOKEN")
os.write(fd, b"pty-s3cret-zz\n")
while True:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        seen += data
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
sys.stdout.write(seen.decode(errors="replace"))
PY
python3 ask.py "$bin" inputs.md "$dir/audit3" > tty.out 2>&1 || { cat tty.out; fail "the terminal run"; }
grep -q 'node=worker-9 token-length=13' tty.out || { cat tty.out; fail "answers on the terminal did not reach the step"; }
grep -q 'pty-s3cret-zz' tty.out && { cat tty.out; fail "the secret input was echoed"; }
# Read into files first: `cmd | grep -q` under pipefail fails (or hides a
# match) when grep exits before cmd has written everything.
git -C audit3 cat-file --batch-all-objects --batch > objects3.txt
if grep -aq 'pty-s3cret-zz' objects3.txt; then fail "the secret input is in the audit repository"; fi
git -C audit3 log -p --all > log3.txt
grep -q 'API_TOKEN' log3.txt || fail "the secret input is not recorded at all"

# 5. check: placeholders are errors with their position, undeclared variables warnings.
printf '# K\n\n```bash\nNODE=%s\nkubectl drain "$NODE" --token YOUR_API_TOKEN\necho "$UNDECLARED ${WITH_DEFAULT:-x}"\n```\n' \
  "'<value of instance label from alert>'" > placeholders.md
"$bin" check --strict placeholders.md > out 2>&1 && fail "check passed placeholders"
grep -q "placeholders.md:4:7: error: placeholder '<value of instance label from alert>'" out || { cat out; fail "placeholder position"; }
grep -q "placeholders.md:5:31: error: placeholder 'YOUR_API_TOKEN'" out || { cat out; fail "YOUR_ placeholder"; }
grep -q 'placeholders.md:6:8: warning: $UNDECLARED is used but nothing defines it' out || { cat out; fail "undeclared variable"; }
grep -q 'WITH_DEFAULT' out && fail "a variable with a default was reported"
printf '# S\n\n```bash\necho ok\n$ oops\n```\n' > stray.md
"$bin" plan stray.md > out 2>&1 && fail "a stray prompt in an unprompted block was accepted"
grep -q "stray.md:5:1: error: a command starting with '\$ '" out || { cat out; fail "stray prompt message"; }

# 6. The property: on any Markdown file, plan never shows a command starting
#    with "$ " as one that will run (the repository's files and the fixtures).
cat > prop.py <<'PY'
import json, subprocess, sys
binary, files = sys.argv[1], sys.argv[2:]
bad = 0
for f in files:
    p = subprocess.run([binary, "plan", "--json", f], capture_output=True, text=True)
    if p.returncode != 0:
        continue  # refused: nothing will run
    for s in json.loads(p.stdout)["steps"]:
        if not s["runs"]:
            continue
        lines = [c["text"].split("\n")[0] for c in s.get("commands", [])] if "commands" in s else \
            (s.get("body") or "").split("\n") if s["kind"] == "shell" else []
        for t in lines:
            if t.lstrip(" \t").startswith("$ ") or t.lstrip(" \t") == "$":
                print(f"{f}: step {s['id']}: runs {t!r}"); bad += 1
print(f"{len(files)} files"); sys.exit(1 if bad else 0)
PY
mapfile -t mds < <(cd "$src" && git ls-files '*.md' | sed "s|^|$src/|"; ls "$dir"/*.md)
python3 prop.py "$bin" "${mds[@]}" > out 2>&1 || { cat out; fail "plan shows a prompted line as a command to run"; }
echo "prompts ok ($(tail -1 out))"
