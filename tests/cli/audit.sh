#!/usr/bin/env bash
# The audit record: committed through libgit2 on refs/heads/runbook-audit,
# read back with git; the work tree, index and branch untouched; concurrent
# runs both land; a kill -9 is committed as interrupted by the next run; a
# secret never reaches a git object; resume continues after the failure.
set -euo pipefail
bin=$1
unset RUNBOOK_AUDIT_REPO
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
git init -q repo
printf "out\n" > repo/.gitignore
cd repo
git config user.name "Ops Person"
git config user.email ops@example.com
cat > deploy.md <<'MD'
---
title: Deploy
secrets: [API_TOKEN]
---
# Deploy

```bash {name=one}
echo "step one"
```

```bash {name=two capture=BUILD}
echo build-42
```

```bash {name=three}
echo "using $BUILD"
test -e fixed
```

```bash {name=four}
echo "four sees $BUILD"
```

```bash {name=five}
echo five
```
MD
git add deploy.md .gitignore
git commit -qm "add runbook"
head_before=$(git rev-parse HEAD)

rc=0; "$bin" run deploy.md > out 2>&1 || rc=$?
[ "$rc" = 1 ] || { echo "expected the run to fail at step three, got $rc"; cat out; exit 1; }
grep -q '^Audit: refs/heads/runbook-audit ' out
grep -qx 'Deploy: failed at three (exit 1)' <<< "$(git log --format=%s refs/heads/runbook-audit)"
grep -qx 'Ops Person' <<< "$(git log --format=%an refs/heads/runbook-audit)"
path=$(git log -1 --format=%B refs/heads/runbook-audit | sed -n 's/^Run: \(.*\)$/\1/p')
[ -n "$path" ]
files=$(git ls-tree -r --name-only refs/heads/runbook-audit)
grep -q '/record.md$' <<< "$(echo "$files")"
grep -q '/record.json$' <<< "$(echo "$files")"
md=$(git show "refs/heads/runbook-audit:$(echo "$files" | grep '/record.md$')")
grep -q '| 3 | `three` | shell | failed | 1 |' <<< "$(echo "$md")"
grep -q 'Captured value:\*\* build-42' <<< "$(echo "$md")"
grep -q "Content (git blob):\*\* \`$(git hash-object deploy.md)\`" <<< "$(echo "$md")"
grep -q "Runbook repository at:\*\* \`$head_before\`" <<< "$(echo "$md")"
json=$(git show "refs/heads/runbook-audit:$(echo "$files" | grep '/record.json$')")
echo "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["exit_code"] == 1 and d["result"] == "failed", d; assert [s["status"] for s in d["steps"]] == ["ok","ok","failed"], d["steps"]'
# The work tree, index and branch are untouched.
[ "$(git rev-parse HEAD)" = "$head_before" ]
[ "$(git symbolic-ref HEAD)" = refs/heads/master ] || [ "$(git symbolic-ref HEAD)" = refs/heads/main ]
[ -z "$(git status --porcelain)" ] || { echo "work tree changed:"; git status --porcelain; exit 1; }

# runbook log and show read it back.
grep -q 'Deploy: failed at three (exit 1)' <<< "$("$bin" log)"
id=$(git log -1 --format=%B refs/heads/runbook-audit | sed -n 's/^Run: //p')
grep -q '^# Deploy: failed at three (exit 1)' <<< "$("$bin" show "$id")"
"$bin" show --json "$id" | python3 -c 'import json,sys; json.load(sys.stdin)'

# Resume: steps four and five only, with step two's capture restored.
touch fixed
git add fixed && git commit -qm fixed
"$bin" run --resume deploy.md > out 2>&1 || { echo "resume failed"; cat out; exit 1; }
grep -q "Resuming run .* at step 'three'" out
! grep -q '^step one$' out
grep -qx 'using build-42' out
grep -qx 'four sees build-42' out
grep -qx 'five' out
rc=0; "$bin" run --resume deploy.md > out 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q 'succeeded: nothing to resume' out
# A runbook changed since the failed run is refused without --force.
git rm -q fixed; "$bin" run deploy.md >/dev/null 2>&1 || true
echo changed >> deploy.md
rc=0; "$bin" run --resume deploy.md > out 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q 'changed since run' out || { echo "changed runbook: rc=$rc"; cat out; exit 1; }
git checkout -q deploy.md
git commit -qm "no fix"

# Runs at once all land (three runbooks: one runbook runs once at a time, runlock.h).
for n in 1 2 3; do printf '# Slow %s\n\n```bash\nsleep 0.5\n```\n' "$n" > "slow$n.md"; done
cp slow1.md slow.md
before=$(git rev-list --count refs/heads/runbook-audit)
"$bin" run slow1.md >/dev/null & p1=$!
"$bin" run slow2.md >/dev/null & p2=$!
"$bin" run slow3.md >/dev/null & p3=$!
wait $p1 $p2 $p3
after=$(git rev-list --count refs/heads/runbook-audit)
[ $((after - before)) = 3 ] || { echo "concurrent runs: expected 3 new commits, got $((after - before))"; exit 1; }

# kill -9 mid-run: the next invocation commits it as interrupted.
cat > killed.md <<'MD'
# Killed

```bash {name=before}
echo before the kill
```

```bash {name=during}
sleep 1021
```
MD
"$bin" run killed.md > out 2>&1 &
pid=$!
for _ in $(seq 400); do grep -q 'Killed › during' out && break; sleep 0.05; done
grep -q 'Killed › during' out || { echo 'the step never started'; cat out; exit 1; }
kill -9 $pid; wait $pid 2>/dev/null || true
pkill -f 'sleep 102[1]' || true
ls .git/runbook/journal/*.log >/dev/null
"$bin" run slow.md > out 2>&1
grep -q 'committed the interrupted run' out
grep -qx 'Killed: interrupted at during (exit none)' <<< "$(git log --format=%s refs/heads/runbook-audit)" || {
  echo "the interrupted run is not in the log:"; git log --format=%s refs/heads/runbook-audit; cat out; exit 1; }
kmd=$(git show "refs/heads/runbook-audit:$(git ls-tree -r --name-only refs/heads/runbook-audit | grep 'killed-.*/record.md$')")
grep -q 'before the kill' <<< "$(echo "$kmd")"
grep -q 'interrupted while running' <<< "$(echo "$kmd")"
[ -z "$(ls .git/runbook/journal/)" ]

# Secrets never reach the terminal or any git object.
cat > secret.md <<'MD'
---
title: Secrets
secrets: [API_TOKEN]
---
# Secrets

```bash
echo "password is $DB_PASSWORD"
echo "token is $API_TOKEN"
echo "dsn is postgresql://app:$DB_PASSWORD@db.internal/app"
```

```bash
echo "$DB_PASSWORD" >&2; exit 3
```
MD
rc=0; API_TOKEN=tok-9f8e7d6c5b "$bin" run --set DB_PASSWORD=hunter2-XYZZY-secret secret.md > out 2>&1 || rc=$?
[ "$rc" = 1 ]
grep -q 'password is \*\*\*' out
grep -q 'token is \*\*\*' out
grep -q 'dsn is postgresql://app:\*\*\*@db.internal/app' out
if grep -q -e hunter2-XYZZY-secret -e tok-9f8e7d6c5b out; then echo "secret on the terminal"; exit 1; fi
# Into a file first: with pipefail, grep -q leaving early would turn a match into a failure of git.
git cat-file --batch-all-objects --batch > ../objects.txt
if grep -a -q -e hunter2-XYZZY-secret -e tok-9f8e7d6c5b ../objects.txt; then
  echo "a secret reached a git object"; exit 1
fi
if grep -r -q -e hunter2-XYZZY-secret .git; then echo "a secret reached the git directory"; exit 1; fi

# --no-audit records nothing; an audit repository that cannot be written stops the run first.
before=$(git rev-list --count refs/heads/runbook-audit)
"$bin" run --no-audit slow.md > /dev/null
[ "$(git rev-list --count refs/heads/runbook-audit)" = "$before" ]
rc=0; "$bin" run --audit-repo /dev/null/audit slow.md > out 2>&1 || rc=$?
[ "$rc" = 5 ] && grep -q 'cannot record this run' out && ! grep -q 'Running' out || { echo "unwritable audit repo: rc=$rc"; cat out; exit 1; }
grep -q "^Audit record: refs/heads/runbook-audit of .*/repo/.git/" <<< "$("$bin" plan slow.md)"

# A journal made and never renamed (its runbook killed between the two) is removed by the next run once a
# minute old; a young one may be its creator's, between making and locking it, and stays.
mkdir -p .git/runbook/journal
: > .git/runbook/journal/20260101T000000Z-old-1.log.Ab12Cd
touch -d '-2 minutes' .git/runbook/journal/20260101T000000Z-old-1.log.Ab12Cd
: > .git/runbook/journal/20260101T000000Z-young-2.log.Ef34Gh
"$bin" run slow.md > /dev/null
[ ! -e .git/runbook/journal/20260101T000000Z-old-1.log.Ab12Cd ] || { echo "an unborn journal was left"; exit 1; }
[ -e .git/runbook/journal/20260101T000000Z-young-2.log.Ef34Gh ] || { echo "a young unborn journal was removed"; exit 1; }
echo "audit ok"
