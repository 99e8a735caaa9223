#!/usr/bin/env bash
# --step: each main-flow step shown and asked ([y]es / [s]kip / [q]uit /
# [a]ll) on a terminal, every answer recorded as an approval; refused
# without a terminal; with --from, when=, a failing step and its handler,
# Ctrl-C and kill -9 at the prompt, and --resume afterwards.
set -u
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
export RUNBOOK_AUDIT_REPO=$dir/audit
export NO_COLOR=1 # plain text to grep (colour is terminal-render.sh's)
fail() { echo "FAIL: $*"; echo "--- out"; cat out 2>/dev/null; exit 1; }
drive() { # drive ANSWERS ARGS...: runbook on a pty, output in out; sets rc
  python3 "$here/lib/ptydrive.py" '[a]ll: ' "$1" out -- "$bin" "${@:2}"
  rc=$?
}
prompts() { grep -c 'run it? \[y\]es' out; }
record() { # the record of the run whose output is in out
  local path
  path=$(sed -n 's/.*(\(runs\/[^)]*record\.md\)).*/\1/p' out | tail -1)
  [ -n "$path" ] || fail "no audit line in the output"
  git -C audit show "runbook-audit:$path"
}

cat > s.md <<'MD'
---
on_failure: Clean up
---
# Stepping

## Work

```bash {name=one}
touch one.ran
```

```bash {name=maybe when="false"}
touch maybe.ran
```

```bash {name=two}
touch two.ran
test ! -e FAIL_TWO
```

```bash {name=three}
touch three.ran
```

## Clean up

```bash {name=cleanup}
touch cleanup.ran
```
MD
clean() { rm -f ./*.ran FAIL_TWO; }

# 1. Without a terminal: refused before anything runs (exit 2).
"$bin" run s.md --step < /dev/null > out 2>&1
[ $? = 2 ] || fail "--step without a terminal: expected exit 2"
grep -q 'needs a terminal' out || fail "no reason given"
ls ./*.ran > /dev/null 2>&1 && fail "a step ran without a terminal"

# 2. yes, skip, quit: one runs, two is skipped, three never; exit 3; the
#    handler runs; when=false is not asked; each answer is in the record.
clean
drive y,s,q run s.md --step
[ "$rc" = 3 ] || fail "quit: expected exit 3, got $rc"
[ -e one.ran ] && [ ! -e two.ran ] && [ ! -e three.ran ] || fail "yes/skip/quit ran the wrong steps"
[ -e cleanup.ran ] || fail "the handler did not run after quit"
[ "$(prompts)" = 3 ] || fail "expected 3 questions (when=false and the handler are not asked), got $(prompts)"
grep -q '  | touch two.ran' out || fail "the step's body was not shown before the question"
grep -q 'two skipped: skipped at the terminal (--step)' out || fail "the skip was not said"
record > rec.md
grep -q 'yes at the terminal (--step)' rec.md && grep -q 'skipped at the terminal (--step)' rec.md &&
  grep -q 'quit at the terminal (--step)' rec.md || { cat rec.md; fail "the answers are not in the record"; }

# 3. --resume after the quit: refused, since the handler ran (exit 2); with
#    --force, asked again from the step after the last one that completed;
#    [a]ll runs the rest without asking. A second --resume has nothing left.
clean
drive a run s.md --resume --step
[ "$rc" = 2 ] && grep -q 'the failure handler ran' out || fail "resume after the handler ran: expected a refusal, got $rc"
drive a run s.md --resume --force --step
[ "$rc" = 0 ] || fail "resume with all: expected exit 0, got $rc"
[ ! -e one.ran ] && [ -e two.ran ] && [ -e three.ran ] || fail "resume ran the wrong steps"
[ "$(prompts)" = 1 ] || fail "[a]ll asked again"
drive a run s.md --resume --step
[ "$rc" != 0 ] || fail "a second resume of a finished run was accepted"

# 4. --from two: only two and three are asked.
clean
drive y,y run s.md --from two --step
[ "$rc" = 0 ] && [ "$(prompts)" = 2 ] || fail "--from: expected exit 0 and 2 questions, got $rc and $(prompts)"
[ ! -e one.ran ] && [ -e three.ran ] || fail "--from ran the wrong steps"

# 5. A failing step answered yes: exit 1, the handler runs without a question.
clean
touch FAIL_TWO
drive y,y run s.md --step
[ "$rc" = 1 ] || fail "failing step: expected exit 1, got $rc"
[ -e cleanup.ran ] && [ ! -e three.ran ] || fail "the handler did not run, or three ran"
[ "$(prompts)" = 2 ] || fail "the handler's step was asked"

# 6. Ctrl-C at the question: exit 130, the step not run, the handler runs, recorded.
clean
drive y,^C run s.md --step
[ "$rc" = 130 ] || fail "Ctrl-C at the question: expected exit 130, got $rc"
[ ! -e two.ran ] && [ -e cleanup.ran ] || fail "Ctrl-C: two ran or the handler did not"
record | grep -q 'interrupted at the terminal (--step)' || fail "the interrupt at the question is not recorded"

# 7. kill -9 at the question: the next run commits the interrupted record,
#    and --resume asks from step two.
clean
drive y,^K run s.md --step
[ -e one.ran ] && [ ! -e two.ran ] || fail "kill -9: wrong steps ran"
clean
drive y,y run s.md --resume --step
[ "$rc" = 0 ] || fail "resume after kill -9: expected exit 0, got $rc"
[ ! -e one.ran ] && [ -e two.ran ] && [ -e three.ran ] || fail "resume after kill -9 ran the wrong steps"
echo "step-mode: ok"
