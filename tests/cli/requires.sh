#!/usr/bin/env bash
# Declared requirements (front matter `requires:`): a missing tool and an
# unset variable fail the run before step 1, both named at their lines,
# exit 5, nothing run; a PostgreSQL older than asked for (a throwaway
# server) is named with its version; all there, the run goes on; check
# refuses a version it cannot read, and warns about undeclared tools.
set -euo pipefail
bin=$(realpath "$1")
dir=$(mktemp -d)
chmod 755 "$dir"
trap 'rm -rf "$dir"' EXIT
cd "$dir"
export TMPDIR=$dir/tmp
mkdir -m 755 "$TMPDIR"
fail() { echo "requires: $*"; exit 1; }
cat > r.md <<MD
---
requires:
  tools: [bash, no-such-tool-xyz]
  env: [DEPLOY_ENV]
---
# Needs

\`\`\`bash {name=touch}
touch $dir/ran
\`\`\`
MD
rc=0; env -u DEPLOY_ENV "$bin" run r.md --no-audit > r1.out 2>&1 || rc=$?
[ "$rc" = 5 ] && grep -q "r.md:3:17: tool 'no-such-tool-xyz' is not on PATH" r1.out &&
  grep -q 'r.md:4:9: variable DEPLOY_ENV is not set' r1.out && grep -q '2 requirements .* not met: nothing was run' r1.out ||
  { cat r1.out; fail "a missing tool and variable: exit $rc"; }
[ ! -e ran ] || fail "a step ran"
# Given with --set, and the tool on PATH: it runs.
mkdir bin && printf '#!/bin/sh\n' > bin/no-such-tool-xyz && chmod 755 bin/no-such-tool-xyz
PATH=$dir/bin:$PATH "$bin" run r.md --no-audit --set DEPLOY_ENV=staging > r2.out 2>&1 || { cat r2.out; fail "all there"; }
[ -e ran ] || fail "the step did not run"
# The PostgreSQL version of each connection.
cat > pg.md <<'MD'
---
requires:
  postgres: ">= 99"
---
# Pg

```sql {name=q}
SELECT 1;
```
MD
rc=0; "$bin" run pg.md --no-audit --ephemeral-db > p1.out 2>&1 || rc=$?
[ "$rc" = 5 ] && grep -q 'pg.md:3:13: connection .*: PostgreSQL [0-9]*\.[0-9]*, the runbook requires >= 99' p1.out ||
  { cat p1.out; fail "an old server: exit $rc"; }
sed -i 's/>= 99/>= 12/' pg.md
"$bin" run pg.md --no-audit --ephemeral-db > p2.out 2>&1 || { cat p2.out; fail "a new enough server"; }
sed -i 's/>= 12/newest/' pg.md
rc=0; "$bin" check pg.md > c.out 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "pg.md:3:13: error: front matter 'requires.postgres' must be a version" c.out || { cat c.out; fail "check of a bad version: exit $rc"; }
# check, under requires:, warns about a shell step's command that is no builtin, no standard utility and not
# declared (each once, at its place); declared, or standard, it is quiet.
cat > tools.md <<'MD'
---
requires: {tools: [jq]}
---
# Tools

```bash {name=a}
kubectl get pods -o json | jq .items | wc -l
if helm status x; then echo deployed; fi
kubectl rollout status deploy/x
```
MD
"$bin" check tools.md > t.out 2>&1 || true
grep -q "tools.md:7:1: warning: 'kubectl' is neither a shell builtin, a standard utility nor in requires.tools" t.out &&
  grep -q "tools.md:8:4: warning: 'helm' is neither" t.out || { cat t.out; fail "undeclared tools not warned about"; }
[ "$(grep -c "'kubectl' is neither" t.out)" = 1 ] && ! grep -q -e "'jq' is" -e "'wc' is" -e "'echo' is" t.out ||
  { cat t.out; fail "warned about a declared or standard command, or twice"; }
sed -i 's/tools: \[jq\]/tools: [jq, kubectl, helm]/' tools.md
"$bin" check --strict tools.md > t2.out 2>&1 || { cat t2.out; fail "declared tools still warned about"; }
echo "requires ok"
