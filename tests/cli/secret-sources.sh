#!/usr/bin/env bash
# Secrets from where teams keep them (docs/format.md, front matter
# `secrets:`): a command's output and a mode-0600 file's content reach the
# step and never the terminal, the run's journal (copied by the step while
# the run goes on) or any object of the audit ref; a group- or
# world-readable file is refused, a failing command stops the run before
# step 1 with exit 5 and its stderr (the secret in it hidden); an unset
# environment source too; a value the operator gives is not asked for;
# --env-file loads NAME=VALUE lines (secret when their names are, mode 0600).
set -euo pipefail
bin=$(realpath "$1")
unset RUNBOOK_AUDIT_REPO
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
fail() { echo "secret-sources: $*"; exit 1; }
git init -q audit
printf 'file-s3cr3t-77\n' > key.txt
chmod 600 key.txt
mkdir vault
printf '#!/bin/sh\n[ "$1" = prod/db ] && { printf "cmd-s3cr3t-42\\n"; exit 0; }\necho "vault: no secret at $1 (cmd-s3cr3t-42 is elsewhere)" >&2\nexit 3\n' > vault/vault
chmod 755 vault/vault
export PATH=$dir/vault:$PATH
cat > s.md <<'MD'
---
secrets:
  DB_PASS: {command: "vault prod/db"}
  API_KEY: {file: key.txt}
  TOKEN: {env: CI_TOKEN}
---
# Sources

```bash {name=use}
echo "pass=$DB_PASS key=$API_KEY token=$TOKEN"
cat ../audit/.git/runbook/journal/*.log > ../journal-copy 2> /dev/null || true
[ "$DB_PASS" = cmd-s3cr3t-42 ] && [ "$API_KEY" = file-s3cr3t-77 ] && [ "$TOKEN" = env-s3cr3t-13 ]
```
MD
mkdir run && mv s.md run/ && mv key.txt run/
CI_TOKEN=env-s3cr3t-13 "$bin" run run/s.md --audit-repo audit > ok.out 2>&1 || { cat ok.out; fail "the sources did not reach the step"; }
grep -q 'pass=\*\*\* key=\*\*\* token=\*\*\*' ok.out || { cat ok.out; fail "the values were not hidden"; }
! grep -q s3cr3t ok.out || fail "a secret reached the terminal"
[ -s journal-copy ] || fail "the step saw no journal"
! grep -q s3cr3t journal-copy || fail "a secret reached the journal"
git -C audit cat-file --batch-all-objects --batch > objects.txt
! grep -a -q s3cr3t objects.txt || fail "a secret reached an object of the audit ref"
rec=$(git -C audit log -1 --name-only --format= runbook-audit | grep record.md)
git -C audit show "runbook-audit:$rec" > record.md
grep -q '^| `DB_PASS` | \*\*\* | secrets: command `vault prod/db` |' record.md &&
  grep -q '^| `API_KEY` | \*\*\* | secrets: file .*key.txt |' record.md &&
  grep -q '^| `TOKEN` | \*\*\* | secrets: environment variable CI_TOKEN |' record.md ||
  { grep -A6 -i variables record.md; fail "the record does not name each secret's source"; }

# A file others can read: refused before step 1, exit 5.
chmod 644 run/key.txt
rc=0; CI_TOKEN=env-s3cr3t-13 "$bin" run run/s.md --no-audit > open.out 2>&1 || rc=$?
[ "$rc" = 5 ] && grep -q "s.md:4:19: secret API_KEY from file .*key.txt: readable by others (mode 644)" open.out &&
  ! grep -q 'pass=' open.out || { cat open.out; fail "a 0644 file: exit $rc"; }
chmod 600 run/key.txt
# A failing command: exit 5 before step 1, its stderr shown with the secret it printed hidden.
sed -i 's|vault prod/db|vault prod/nope|' run/s.md
rc=0; CI_TOKEN=env-s3cr3t-13 "$bin" run run/s.md --no-audit > cmd.out 2>&1 || rc=$?
[ "$rc" = 5 ] && grep -q 'secret DB_PASS from command `vault prod/nope`: exit 3: vault: no secret at prod/nope' cmd.out &&
  ! grep -q 'pass=' cmd.out || { cat cmd.out; fail "a failing command: exit $rc"; }
# The operator's value wins: the command is not run.
rc=0; DB_PASS=cmd-s3cr3t-42 CI_TOKEN=env-s3cr3t-13 "$bin" run run/s.md --no-audit --set-env DB_PASS > given.out 2>&1 || rc=$?
[ "$rc" = 0 ] || { cat given.out; fail "a value given with --set-env: exit $rc"; }
# Ctrl-C while a source's command runs: it is stopped (its process group), the run ends 130, nothing ran.
printf -- '---\nsecrets:\n  SLOW: {command: "sleep 37.5; echo late"}\n---\n# Slow\n\n```bash\ntouch ran\n```\n' > slow.md
"$bin" run slow.md --no-audit > slow.out 2>&1 &
pid=$!
for _ in $(seq 50); do pgrep -f 'sleep 37.5' > /dev/null && break; sleep 0.1; done
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 130 ] && grep -q 'secret SLOW from command `sleep 37.5; echo late`: interrupted' slow.out && [ ! -e ran ] ||
  { cat slow.out; fail "Ctrl-C during a source: exit $rc"; }
sleep 0.2
! pgrep -f 'sleep 37.5' > /dev/null || fail "the source's command survived"
# An environment source not set.
rc=0; env -u CI_TOKEN DB_PASS=x "$bin" run run/s.md --no-audit --set-env DB_PASS > env.out 2>&1 || rc=$?
[ "$rc" = 5 ] && grep -q 'secret TOKEN from environment variable CI_TOKEN: not set' env.out || { cat env.out; fail "an unset source: exit $rc"; }
# A source that is not one of the three: the runbook is refused, at its line.
printf -- '---\nsecrets:\n  X: {url: "https://vault"}\n---\n# Bad\n\n```bash\ntrue\n```\n' > bad.md
rc=0; "$bin" check bad.md > bad.out 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "bad.md:3:6: error: front matter 'secrets': a secret's source is one of" bad.out || { cat bad.out; fail "a bad source: exit $rc"; }

# --env-file: NAME=VALUE lines; a secret-looking name's value hidden, the others shown; mode 0600 only.
printf '# Env\n\n```bash {name=show}\necho "region=$REGION pw=$DB_PASSWORD"\n```\n' > env.md
printf 'REGION=eu-west\nDB_PASSWORD=envfile-s3cr3t-5\n' > vars.env
chmod 600 vars.env
"$bin" run env.md --no-audit --env-file vars.env > ef.out 2>&1 || { cat ef.out; fail "--env-file"; }
grep -q 'region=eu-west pw=\*\*\*' ef.out || { cat ef.out; fail "--env-file's values"; }
chmod 640 vars.env
rc=0; "$bin" run env.md --no-audit --env-file vars.env > ef2.out 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q 'env-file vars.env: readable by others (mode 640)' ef2.out || { cat ef2.out; fail "--env-file 0640: exit $rc"; }
# --set of a secret warns.
"$bin" run env.md --no-audit --set DB_PASSWORD=visible-s3cr3t > warn.out 2>&1 || true
grep -q 'warning: --set DB_PASSWORD puts a secret on the command line' warn.out || { cat warn.out; fail "no warning for --set of a secret"; }
echo "secret-sources ok"
