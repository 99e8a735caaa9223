#!/usr/bin/env bash
# Leak check: plans of every runbook we ship, real runs (shell, SQL on a
# throwaway server, Lua, audit), and the unit tests, under valgrind.
set -euo pipefail
bin=$(realpath "${RUNBOOK:-build/runbook}")
vg=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99
    --trace-children=no --suppressions="$(cd "$(dirname "$0")" && pwd)/valgrind.supp")
work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
fail=0
check() { # check EXPECTED_EXIT CMD...
  local want=$1 rc=0; shift
  "${vg[@]}" "$@" > "$work/out" 2> "$work/err" || rc=$?
  # valgrind's own failure (a suppressions file not found, say) is no exit code "any" may accept.
  if [ "$rc" = 99 ] || grep -q '^==[0-9]*== FATAL' "$work/err" || { [ "$want" != any ] && [ "$rc" != "$want" ]; }; then
    echo "FAIL ($rc): $*"; cat "$work/err"; fail=1
  else
    echo "ok: $*"
  fi
}
for f in examples/*.md runbooks/*.md tests/golden/tour/runbook.md ../shared/seeds/*.md; do
  [ -f "$f" ] && check 0 "$bin" plan --json "$f"
done
for f in runbooks/*.md examples/*.md; do check 0 "$bin" check --strict "$f"; done
check 2 "$bin" check tests/check/acceptance/runbook.md
check 0 "$bin" run --no-audit examples/hello.md
check 2 "$bin" check tests/check/sql-syntax/runbook.md
check 0 "$bin" check --list-rules
for g in prompted-transcript console-run inputs; do check any "$bin" plan --json "tests/golden/$g/runbook.md"; done
# psql's side: COPY data inline, \gset, \if, \echo, a capped and a whole result.
cat > "$work/psql.md" <<'MD'
# psql

```sql {name=load transaction=none}
CREATE TABLE t (id int, label text);
COPY t FROM STDIN;
1	one
2	two
\.
SELECT count(*) AS n FROM t \gset
\if :{?n}
\echo 'rows:' :n
\endif
SELECT * FROM t;
```

```sql {name=some rows=1}
SELECT * FROM t;
```

```bash {name=prompted}
$ echo "n is $n"
n is 2
```
MD
check 0 "$bin" run --no-audit --ephemeral-db "$work/psql.md"
# Targets: a rollout of three (one failing), one --target, the plan of a matrix, an inventory check.
mkdir "$work/fan"
printf 'targets:\n  a: {N: "1"}\n  b: {N: "2"}\n  c: {N: "3", db: "host=h password=${P}"}\ngroups:\n  g: [a, b, c]\n' \
  > "$work/fan/targets.yaml"
printf '# Fan\n\n```bash\n[ "$N" != 2 ]\n```\n' > "$work/fan/fan.md"
P=x check 1 "$bin" run "$work/fan/fan.md" --targets g -j 2 --keep-going --audit-repo "$work/audit"
check 0 "$bin" run "$work/fan/fan.md" --target a --no-audit
check 0 "$bin" plan --json "$work/fan/fan.md" --matrix R=eu,us --matrix T=a,b --canary 1
check 0 "$bin" check "$work/fan/fan.md"
# The audit trail shared and signed: a push to a bare remote (the second run's made again on the first's
# tip), a push that cannot reach its remote, audit push, log --remote, audit verify.
git init -q --bare "$work/remote.git"
git init -q "$work/clone1"
git init -q "$work/clone2"
ssh-keygen -q -t ed25519 -N '' -C vg -f "$work/sign-key"
echo "vg $(cat "$work/sign-key.pub")" > "$work/allowed"
export RUNBOOK_AUDIT_SIGN=ssh RUNBOOK_AUDIT_SIGNING_KEY=$work/sign-key
check 0 "$bin" run examples/hello.md --audit-repo "$work/clone1" --audit-remote "$work/remote.git"
check 0 "$bin" run examples/hello.md --audit-repo "$work/clone2" --audit-remote "$work/remote.git"
check 0 "$bin" run examples/hello.md --audit-repo "$work/clone2" --audit-remote "$work/nowhere.git"
check 0 "$bin" audit push --audit-repo "$work/clone2" --audit-remote "$work/remote.git"
check 0 "$bin" log --remote --audit-repo "$work/clone1" --audit-remote "$work/remote.git"
check 0 "$bin" audit verify --audit-repo "$work/remote.git" --allowed-signers "$work/allowed"
unset RUNBOOK_AUDIT_SIGN RUNBOOK_AUDIT_SIGNING_KEY
# On an operator's machine: --version, the completions, doctor, secrets from a command and a file, requires:.
check 0 "$bin" --version
for sh in bash zsh fish; do check 0 "$bin" completion "$sh"; done
printf 'vg-secret-file\n' > "$work/key" && chmod 600 "$work/key"
printf -- '---\nsecrets:\n  A: {command: "echo vg-secret-cmd"}\n  B: {file: key}\nrequires: {tools: [bash], env: [HOME]}\n---\n# Src\n\n```bash\necho "$A $B"\n```\n' \
  > "$work/src.md"
check 0 "$bin" run --audit-repo "$work/clone1" "$work/src.md"
check 0 "$bin" doctor "$work/src.md" --audit-repo "$work/clone1" --json
printf -- '---\nrequires: {tools: [no-such-tool-vg]}\n---\n# Req\n\n```bash\nkubectl x\n```\n' > "$work/req.md"
check 5 "$bin" run --no-audit "$work/req.md"
check 0 "$bin" check "$work/req.md"
# The throwaway server's template made (an empty cache), then copied; a start given up (the check refuses).
RUNBOOK_PG_CACHE=$work/pg-cache check 0 "$bin" run --no-audit --ephemeral-db examples/hello.md
RUNBOOK_PG_CACHE=$work/pg-cache check 0 "$bin" run --no-audit --ephemeral-db examples/hello.md
printf '# Bad\n\n```sql\nSELEC 1;\n```\n' > "$work/bad.md"
RUNBOOK_PG_CACHE=$work/pg-cache check 2 "$bin" run --no-audit --ephemeral-db "$work/bad.md"
for t in sql-gate-and-rollback when-expect-retry gate-closed approvals-refused; do
  rm -rf "$work/case" && cp -R "tests/e2e/$t" "$work/case"
  (cd "$work/case" && check any "$bin" run $(cat args 2>/dev/null) --audit-repo "$work/audit" runbook.md)
done
# Every output at once: JSON events with output, JUnit, GitHub Actions, the
# HTML report; then the report again from the record.
rm -rf "$work/case" && cp -R tests/e2e/sql-gate-and-rollback "$work/case"
(cd "$work/case" && GITHUB_ACTIONS=true GITHUB_STEP_SUMMARY="$work/summary.md" check any "$bin" run \
  $(cat args 2>/dev/null) --audit-repo "$work/audit" --events "$work/events.jsonl" --events-output \
  --junit "$work/junit.xml" --report "$work/report.html" --verbose runbook.md)
run=$(git -C "$work/audit" log -1 --format=%s refs/heads/runbook-audit > /dev/null &&
      git -C "$work/audit" show "runbook-audit:$(git -C "$work/audit" log -1 --name-only --format= refs/heads/runbook-audit |
        grep journal.log)" | sed -n 's/^run\tid=\([^\t]*\).*/\1/p')
[ -n "$run" ] || { echo "no run id in the newest commit of $work/audit:"; git -C "$work/audit" log --format='%h %ci %s' refs/heads/runbook-audit | head -20;
  tail -n 30 "$work/out" "$work/err"; }
check 0 "$bin" show "$run" --html --audit-repo "$work/audit" -o "$work/shown.html"
for u in build/tests/test_*; do [ -x "$u" ] && RB_NO_TIMING=1 RB_TEST_DATA=$PWD/tests check 0 "$u"; done
exit "$fail"
