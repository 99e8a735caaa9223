#!/usr/bin/env bash
# Shell completion (runbook completion bash|zsh|fish), generated from the
# option tables --help prints: sourced in bash, COMP_WORDS/COMP_CWORD set
# as bash sets them, the function asked: `runbook r` gives the commands
# starting with r, `runbook run --o` the run options starting with --o,
# `runbook run FILE --only ` FILE's step ids (through `runbook list`),
# `runbook new FILE --template ` the templates; zsh's and fish's scripts
# are valid for their shells.
set -euo pipefail
bin=$(realpath "$1")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
fail() { echo "completion: $*"; exit 1; }
mkdir bin && ln -s "$bin" bin/runbook
export PATH=$dir/bin:$PATH
runbook completion bash > runbook.bash
cat > steps.md <<'MD'
# Steps

```bash {name=backup}
true
```

```bash {name=migrate}
true
```
MD
# ask WORDS...: the completions bash would offer for the command line WORDS (the last one being typed).
ask() {
  bash -c '. ./runbook.bash; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _runbook; printf "%s\n" "${COMPREPLY[@]}"' ask "$@" | sort | tr '\n' ' '
}
[ "$(ask runbook r)" = "revert run " ] || fail "runbook r: $(ask runbook r)"
got=$(ask runbook run --o)
[ "$got" = "--only " ] || fail "runbook run --o: $got"
got=$(ask runbook run steps.md --only "")
[ "$got" = "backup migrate " ] || fail "runbook run steps.md --only: $got"
got=$(ask runbook plan steps.md --from m)
[ "$got" = "migrate " ] || fail "runbook plan steps.md --from m: $got"
got=$(ask runbook new x.md --template "")
[ "$got" = "basic promotion sql " ] || fail "runbook new --template: $got"
got=$(ask runbook audit "")
[ "$got" = "push verify " ] || fail "runbook audit: $got"
got=$(ask runbook run --col)
[ "$got" = "--color " ] || fail "runbook run --col: $got"
# Every option of run's --help is offered.
for o in $(runbook run --help | sed -n 's/^  \(--[a-z-]*\).*/\1/p'); do
  ask runbook run -- | grep -q -- "$o" || fail "run's $o is not offered"
done
# zsh's and fish's scripts parse.
runbook completion zsh > _runbook
if command -v zsh > /dev/null; then zsh -n _runbook || fail "zsh script"; fi
runbook completion fish > runbook.fish
if command -v fish > /dev/null; then fish -n runbook.fish || fail "fish script"; fi
grep -q "__fish_seen_subcommand_from run' -l only -x -a '(__runbook_steps)'" runbook.fish || fail "fish: --only's step ids"
rc=0; runbook completion tcsh > /dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "an unknown shell: exit $rc"
echo "completion ok"
