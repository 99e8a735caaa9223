#!/usr/bin/env bash
# The CI examples run as written. tests/cli/ci-example/run-workflow.py (PyYAML)
# takes each step of examples/ci/*.yml and runs its `run:` with bash, as
# GitHub's runner does, in a fresh clone of a bare `origin` that holds the
# work tree as one commit; `${{ ... }}` comes from the table below.
# One step is replaced: `make build` (apt-get and a full build) becomes a
# link from build/runbook -- where the workflows' RUNBOOK points -- to the
# binary under test. `gh` is a stand-in that records its arguments.
# The runner sets GITHUB_ACTIONS=true, so runbook writes workflow commands.
# - staging, twice, each in a fresh clone: both succeed, each run pushes its
#   record itself (--audit-remote origin), the second made again on the
#   first's tip (two run commits on origin, one on the other);
#   the runbooks pass `check`, the run's steps are grouped, its JUnit report
#   and event stream are artifacts;
# - the staging runbook's promote step: PROMOTE without sign-offs refuses
#   (exit 3 inside, before any change), with the four names it promotes and
#   the record names them;
# - production, on a throwaway server staged by runbooks/ehg-staging.md: a
#   wrong confirmation and an unreachable server stop before anything; without
#   sign-offs the promotion refuses with exit 3 and the database is unchanged;
#   with them it succeeds. Each time the backup was taken, the schema-only
#   snapshot is an artifact and the audit goes out as a branch and a pull
#   request; the password is in no file, record, branch or output (but the
#   ::add-mask:: line, before the run prints anything). The refusal is an
#   annotation on the sign-off gate's line and in the JUnit artifact.
set -euo pipefail
. "$(dirname "$0")/lib/kept.sh"
bin=$1
src=${RB_SOURCE_DIR:?}
runner=$src/tests/cli/ci-example/run-workflow.py
python3 -c 'import yaml' 2> /dev/null || { echo "python3-yaml (PyYAML) is missing"; exit 1; }
dir=$(mktemp -d)
chmod 755 "$dir"
pid=
srv=
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2> /dev/null || true
  sleep 0.3
  # The promotion run by the staging runbook keeps its backup in /tmp (its BACKUP_DIR).
  [ ! -f "$dir/promote-all" ] || grep -o '/tmp/ehg_prod_[^ ]*\.dump' "$dir/promote-all" | sort -u | xargs -r rm -f || true
  [ -n "${CI_EXAMPLE_KEEP:-}" ] || rm -rf "$dir" ${srv:+"$srv"}
}
trap cleanup EXIT
# As on a runner: no audit repository from outside, no git identity.
unset RUNBOOK_AUDIT_REPO PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD DATABASE_URL PROD_DATABASE_URL
export GIT_CONFIG_GLOBAL=$dir/gitconfig GIT_CONFIG_NOSYSTEM=1
: > "$GIT_CONFIG_GLOBAL"
fail() { echo "$1"; [ -z "${2:-}" ] || cat "$2"; exit 1; }
id=(-c user.name=ci-example -c user.email=ci-example@localhost)

# origin: a bare repository with the work tree (tracked and new files, as they
# are now) as one commit on main.
mkdir "$dir/seed"
if git -C "$src" rev-parse --git-dir > /dev/null 2>&1; then
  git -C "$src" ls-files -z -co --exclude-standard |  # a file deleted in the work tree stays out
    tar -C "$src" --null -T - --ignore-failed-read -cf - | tar -C "$dir/seed" -xf -
else
  tar -C "$src" --exclude='./build*' --exclude=./.runbook-audit -cf - . | tar -C "$dir/seed" -xf -
fi
git -C "$dir/seed" init -q -b main
git -C "$dir/seed" add -A
git -C "$dir/seed" "${id[@]}" commit -q -m "the work tree"
git init -q --bare -b main "$dir/origin.git"
git -C "$dir/seed" push -q "$dir/origin.git" main

mkdir "$dir/bin"
cat > "$dir/bin/gh" <<EOF
#!/usr/bin/env bash
{ printf '%s\n' "\$@"; echo --; } >> '$dir/gh.log'
echo https://github.com/example/ehg/pull/7
EOF
chmod 755 "$dir/bin/gh"
export PATH=$dir/bin:$PATH

# run-workflow WORKFLOW JOB NAME EXPR... : a fresh clone of origin as the
# workspace; the runner's output in $dir/NAME.out, its step results in
# $dir/NAME.tsv; sets rc.
run_workflow() {
  local wf=$1 job=$2 name=$3; shift 3
  local ws=$dir/ws-$name
  git clone -q "$dir/origin.git" "$ws"
  rc=0
  python3 "$runner" "$src/examples/ci/$wf" "$job" --workspace "$ws" \
    --replace "make build=mkdir -p build && ln -s '$bin' build/runbook" \
    --artifacts "$dir/artifacts-$name" --results "$dir/$name.tsv" \
    --expr "github.workspace=$ws" --expr github.run_id=4242 --expr github.run_attempt=1 \
    --expr github.repository=example/ehg --expr github.server_url=https://github.com \
    --expr github.actor=ci-example --expr github.token=stand-in-token \
    --expr github.event.repository.default_branch=main "$@" > "$dir/$name.out" 2>&1 || rc=$?
}
# step NAME STEP: the status of a step of that run: success, skipped, "failure 3".
step() { awk -F '\t' -v n="$2" '$1 == n { print $2; found = 1 } END { if (!found) print "absent" }' "$dir/$1.tsv"; }
expect_step() { # NAME STEP STATUS...
  local got; got=$(step "$1" "$2")
  [ "$got" = "$3" ] || fail "$1: step '$2' is '$got', expected '$3'" "$dir/$1.out"
}

# The workflows say what they must, as YAML.
python3 - "$src/examples/ci/housekeeping-staging.yml" "$src/examples/ci/housekeeping-production.yml" <<'EOF'
import sys, yaml
st, pr = (yaml.safe_load(open(p)) for p in sys.argv[1:])
def check(ok, what):
    if not ok:
        sys.exit("workflow: " + what)
check(st["permissions"]["contents"] == "write", "staging: permissions contents: write")
runs = "\n".join(s.get("run", "") for s in st["jobs"]["staging"]["steps"])
check("--audit-remote origin" in runs and "git push" not in runs, "staging: the run pushes its record itself")
check("SOURCE_TREE=." not in runs and "$GITHUB_WORKSPACE/examples/boundary-sample" in runs, "staging: SOURCE_TREE")
on = pr[True] if True in pr else pr["on"]  # YAML 1.1 reads the key `on` as true
check(list(on) == ["workflow_dispatch"], "production: manual dispatch only")
inputs = on["workflow_dispatch"]["inputs"]
for i in ("confirm", "signoff_engineering_lead", "signoff_dba", "signoff_security", "signoff_product_owner"):
    check(inputs[i]["required"] is True, "production: input " + i)
job = pr["jobs"]["promote"]
check(job["environment"] == "production", "production: environment")
check(pr["concurrency"]["group"], "production: concurrency")
text = open(sys.argv[2]).read()
for s in ("PGHOST_PROD", "PGPORT_PROD", "PGDATABASE_PROD", "PGUSER_PROD", "PGPASSWORD_PROD"):
    check("${{ secrets.%s }}" % s in text, "production: secret " + s)
for s in job["steps"]:  # no expression is spliced into a script
    check("${{" not in s.get("run", ""), "production: an expression inside run: of " + s.get("name", "?"))
check("--set-env PROD_DATABASE_URL" in text and "--set PROD_DATABASE_URL" not in text, "production: URL through the environment")
EOF
echo "workflows declare what they need"

# ---- Staging, twice: each in a fresh clone; the second push fast-forwards.
run_workflow housekeeping-staging.yml staging staging1
[ "$rc" = 0 ] || fail "staging run 1: exit $rc" "$dir/staging1.out"
grep -q '^Audit remote: 1 commit pushed to origin$' "$dir/staging1.out" || fail "staging 1: the record was not pushed" "$dir/staging1.out"
grep -qx 'no venture code writes eng tables' "$dir/staging1.out" || fail "staging 1: tripwire" "$dir/staging1.out"
expect_step staging1 "Build runbook" success
expect_step staging1 "Check the runbooks" success
expect_step staging1 "Run the staging check" success
# Under Actions: the run's steps in groups, its reports kept as artifacts.
grep -q '^::group::\[1/[0-9]*\] EHG housekeeping staging check › ' "$dir/staging1.out" \
  || fail "staging 1: the run's steps are not grouped" "$dir/staging1.out"
reports=$dir/artifacts-staging1/runbook-reports-4242-1
grep -q '<testcase name="empty-database"' "$reports/staging-junit.xml" 2> /dev/null \
  || fail "staging 1: no JUnit report artifact" "$dir/staging1.out"
grep -q '^{"schema":1,"event":"run_end",.*"exit_code":0' "$reports/staging-events.jsonl" 2> /dev/null \
  || fail "staging 1: no event stream artifact" "$dir/staging1.out"
tip1=$(git -C "$dir/origin.git" rev-parse refs/heads/runbook-audit)
run_workflow housekeeping-staging.yml staging staging2
[ "$rc" = 0 ] || fail "staging run 2: exit $rc" "$dir/staging2.out"
expect_step staging2 "Run the staging check" success
grep -q "^Audit remote: 1 commit pushed to origin (made again on the remote's tip, which had moved)$" "$dir/staging2.out" \
  || fail "staging 2: the record was not made again on run 1's and pushed" "$dir/staging2.out"
[ "$(git -C "$dir/origin.git" rev-list --count refs/heads/runbook-audit)" = 2 ] \
  || fail "origin's runbook-audit does not hold two commits"
[ "$(git -C "$dir/origin.git" rev-parse refs/heads/runbook-audit^)" = "$tip1" ] || fail "run 2 is not on run 1"
git -C "$dir/origin.git" log --format='%s%n%(trailers:key=Runbook,valueonly)%(trailers:key=Result,valueonly)' \
  refs/heads/runbook-audit > "$dir/staging.log"
[ "$(grep -c '^EHG housekeeping staging check: succeeded' "$dir/staging.log")" = 2 ] \
  || fail "origin's runbook-audit: not two successful staging runs" "$dir/staging.log"
[ "$(git -C "$dir/origin.git" ls-tree -r --name-only refs/heads/runbook-audit | grep -c '/record\.json$')" = 2 ] \
  || fail "origin's runbook-audit: not two records"
echo "staging workflow: two runs, each pushing its record, the second on the first's"

# ---- A throwaway "production": staged by the EHG staging runbook, kept.
"$bin" run --ephemeral-db --keep-db --no-audit --set CODEX_STAGING_PASSWORD=ci-example-codex-9913 \
  "$src/runbooks/ehg-staging.md" > "$dir/prod-up" 2>&1 || { kept_server "$dir/prod-up" || true; fail "staging the throwaway server" "$dir/prod-up"; }
kept_server "$dir/prod-up" || fail "no throwaway server" "$dir/prod-up"
# postgresql://USER@/DB?host=%2Fsocket%2Fdir&port=N
pguser=$(sed -n 's|^postgresql://\([^@/]*\)@.*|\1|p' <<< "$url")
pgdb=$(sed -n 's|^postgresql://[^/]*/\([^?]*\).*|\1|p' <<< "$url")
pghost=$(sed -n 's|.*[?&]host=\([^&]*\).*|\1|p' <<< "$url" | sed 's|%2F|/|g')
pgport=$(sed -n 's|.*[?&]port=\([0-9]*\).*|\1|p' <<< "$url")
[ -n "$pguser" ] && [ -n "$pgdb" ] && [ -d "$pghost" ] && [ -n "$pgport" ] || fail "cannot read $url"
dump() { pg_dump -n eng -n vh -n views -n audit "$url" | grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict' \
  -e '^SELECT pg_catalog.setval' | sed '/^$/d'; }
password=ci-example-prod-password-5521
# The throwaway server archives no WAL: the promotion's PITR gate wants a reason.
pitr="throwaway test server without WAL archiving"
prod=(--expr "secrets.PGHOST_PROD=$pghost" --expr "secrets.PGPORT_PROD=$pgport"
  --expr "secrets.PGDATABASE_PROD=$pgdb" --expr "secrets.PGUSER_PROD=$pguser"
  --expr "secrets.PGPASSWORD_PROD=$password")
names=(--expr "inputs.signoff_engineering_lead=Ada Lovelace" --expr "inputs.signoff_dba=Edgar Codd"
  --expr "inputs.signoff_security=Whitfield Diffie" --expr "inputs.signoff_product_owner=Grace Hopper")
none=(--expr inputs.signoff_engineering_lead= --expr inputs.signoff_dba=
  --expr inputs.signoff_security= --expr inputs.signoff_product_owner=)
no_secret() { # FILE...: the password appears in none (but on runbook's ::add-mask:: line, which the runner keeps out of the log)
  local left
  left=$(grep -rhF "$password" "$@" | grep -vxF "::add-mask::$password" || true)
  [ -z "$left" ] || fail "the production password is in $*"
}

# ---- The staging runbook's promote step, in a clone (its records stay there).
git clone -q "$dir/origin.git" "$dir/ws-promote"
dump > "$dir/before.sql"
rc=0; RUNBOOK=$bin PROD_DATABASE_URL=$url PITR_OVERRIDE=$pitr "$bin" run --ephemeral-db --confirm PROMOTE \
  --set-env PROD_DATABASE_URL "$dir/ws-promote/runbooks/ehg-housekeeping-staging.md" > "$dir/promote-none" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "step 'promote': failed with exit code 3" "$dir/promote-none" \
  && grep -q "gate closed: .*SIGNOFF_ENGINEERING_LEAD" "$dir/promote-none" \
  || fail "PROMOTE without sign-offs: expected the promotion to refuse (exit 3 inside), rc=$rc" "$dir/promote-none"
dump > "$dir/after.sql"
diff -u "$dir/before.sql" "$dir/after.sql" || fail "PROMOTE without sign-offs changed the database"
echo "staging runbook: PROMOTE without sign-offs refuses, nothing changed"

# ---- Production workflow.
# A wrong confirmation: nothing after the first step runs, no pull request.
run_workflow housekeeping-production.yml promote prod-word --expr inputs.confirm=promote "${prod[@]}" "${names[@]}" \
  --expr "inputs.pitr_override=$pitr"
[ "$rc" = 1 ] || fail "production, confirm=promote: exit $rc" "$dir/prod-word.out"
expect_step prod-word Confirmation "failure 1"
expect_step prod-word "Precheck (connectivity)" skipped
expect_step prod-word "Apply and verify (promotion runbook)" skipped
expect_step prod-word "Audit (pull request)" success
[ ! -e "$dir/gh.log" ] || fail "production, confirm=promote: gh was called" "$dir/gh.log"

# An unreachable server: the precheck stops the job before the backup.
run_workflow housekeeping-production.yml promote prod-down --expr inputs.confirm=PROMOTE "${names[@]}" --expr "inputs.pitr_override=$pitr" \
  --expr "secrets.PGHOST_PROD=$dir/no-such-socket-dir" --expr "secrets.PGPORT_PROD=$pgport" \
  --expr "secrets.PGDATABASE_PROD=$pgdb" --expr "secrets.PGUSER_PROD=$pguser" --expr "secrets.PGPASSWORD_PROD=$password"
[ "$rc" = 1 ] || fail "production, server down: exit $rc" "$dir/prod-down.out"
expect_step prod-down "Precheck (connectivity)" "failure 2"
expect_step prod-down "Backup (schema-only snapshot)" skipped
expect_step prod-down "Apply and verify (promotion runbook)" skipped
[ ! -e "$dir/gh.log" ] || fail "production, server down: gh was called" "$dir/gh.log"

# check_audit NAME: the snapshot is an artifact, schema only; the audit branch
# is on origin with the snapshot and the run's record; gh opened its pull request.
check_audit() {
  local name=$1 snap branch
  snap=$(ls "$dir/artifacts-$name"/prod-schema-before-4242-1/prod_schema_before_*.sql 2> /dev/null) \
    || fail "$name: no schema snapshot artifact" "$dir/$name.out"
  grep -q '^CREATE TABLE eng\.' "$snap" || fail "$name: the snapshot has no eng tables"
  ! grep -qE '^(COPY|INSERT INTO) ' "$snap" || fail "$name: the snapshot holds data"
  branch=$(git -C "$dir/origin.git" for-each-ref --format='%(refname:lstrip=2)' 'refs/heads/audit/prod-promotion-*' | tail -1)
  [ -n "$branch" ] || fail "$name: no audit branch on origin" "$dir/$name.out"
  git -C "$dir/origin.git" ls-tree -r --name-only "refs/heads/$branch" > "$dir/$name.tree"
  grep -qx "ops/audit/${snap##*/}" "$dir/$name.tree" || fail "$name: the snapshot is not on $branch" "$dir/$name.tree"
  ! grep -q '\.dump$' "$dir/$name.tree" || fail "$name: a data backup is on $branch" "$dir/$name.tree"
  record=$(grep -x 'ops/audit/runs/.*/record\.md' "$dir/$name.tree") || fail "$name: no record on $branch" "$dir/$name.tree"
  git -C "$dir/origin.git" show "refs/heads/$branch:$record" > "$dir/$name.record.md"
  git -C "$dir/origin.git" show "refs/heads/$branch:${record%.md}.json" > "$dir/$name.record.json"
  [ "$(git -C "$dir/origin.git" rev-parse "refs/heads/$branch^")" = "$(git -C "$dir/origin.git" rev-parse main)" ] \
    || fail "$name: $branch is not one commit on main"
  tr '\n' ' ' < "$dir/gh.log" | grep -q -- "pr create --repo example/ehg --base main --head $branch --title " \
    || fail "$name: gh pr create not called for $branch" "$dir/gh.log"
  no_secret "$dir/$name.out" "$dir/artifacts-$name" "$dir/$name.record.md" "$dir/$name.record.json" "$dir/gh.log"
  ! git -C "$dir/origin.git" grep -qF "$password" "refs/heads/$branch" -- ops/audit || fail "$name: the password is on $branch"
  grep -qF -- '--set-env PROD_DATABASE_URL' "$dir/$name.record.json" || fail "$name: not --set-env PROD_DATABASE_URL"
  ! grep -qF "host='" "$dir/$name.record.json" || fail "$name: the connection string is in the record"
  rm -f "$dir/gh.log"
}

# Confirmed, no sign-offs: the promotion refuses (exit 3) before any change;
# the snapshot and the refused run's record still go out for audit.
dump > "$dir/before.sql"
run_workflow housekeeping-production.yml promote prod-none --expr inputs.confirm=PROMOTE "${prod[@]}" "${none[@]}" \
  --expr "inputs.pitr_override=$pitr"
[ "$rc" = 1 ] || fail "production without sign-offs: exit $rc" "$dir/prod-none.out"
expect_step prod-none "Precheck (connectivity)" success
expect_step prod-none "Apply and verify (promotion runbook)" "failure 3"
grep -q "gate closed: .*SIGNOFF_ENGINEERING_LEAD" "$dir/prod-none.out" || fail "production: not the sign-off gate" "$dir/prod-none.out"
line=$(grep -n '^```lua gate {name=sign-offs' "$src/runbooks/ehg-production-promotion.md" | cut -d: -f1)
grep -q "^::error file=runbooks/ehg-production-promotion.md,line=$line,col=1,title=gate 'sign-offs' closed::sign-offs missing" \
  "$dir/prod-none.out" || fail "production: no annotation on the sign-off gate (line $line)" "$dir/prod-none.out"
grep -q '<failure' "$dir/artifacts-prod-none/promotion-junit-4242-1/promotion-junit.xml" 2> /dev/null \
  || fail "production: no JUnit report artifact with the failure" "$dir/prod-none.out"
expect_step prod-none "Audit (pull request)" success
dump > "$dir/after.sql"
diff -u "$dir/before.sql" "$dir/after.sql" || fail "production without sign-offs changed the database"
check_audit prod-none
git -C "$dir/origin.git" update-ref -d "refs/heads/$(git -C "$dir/origin.git" for-each-ref \
  --format='%(refname:lstrip=2)' 'refs/heads/audit/prod-promotion-*')"
echo "production workflow: refuses without confirmation, an unreachable server, or sign-offs"

# Confirmed and signed off: the promotion runs and succeeds.
run_workflow housekeeping-production.yml promote prod-ok --expr inputs.confirm=PROMOTE "${prod[@]}" "${names[@]}" \
  --expr "inputs.pitr_override=$pitr"
[ "$rc" = 0 ] || fail "production: exit $rc" "$dir/prod-ok.out"
expect_step prod-ok "Apply and verify (promotion runbook)" success
grep -q '^Done: ' "$dir/prod-ok.out" || fail "production: the promotion did not finish" "$dir/prod-ok.out"
# The runner masks the password before the promotion prints anything.
mask=$(grep -nxF "::add-mask::$password" "$dir/prod-ok.out" | cut -d: -f1 | head -1)
start=$(grep -n '^Running EHG production promotion' "$dir/prod-ok.out" | cut -d: -f1 | head -1)
[ -n "$mask" ] && [ -n "$start" ] && [ "$mask" -lt "$start" ] \
  || fail "production: the password is not masked before the run starts" "$dir/prod-ok.out"
check_audit prod-ok
grep -q 'succeeded' "$dir/prod-ok.record.md" || fail "production: the record is not a success" "$dir/prod-ok.record.md"
for n in "Ada Lovelace" "Edgar Codd" "Whitfield Diffie" "Grace Hopper"; do
  grep -qF "$n" "$dir/prod-ok.record.json" || fail "production: the record does not name $n" "$dir/prod-ok.record.json"
done
echo "production workflow: promotes with the four sign-offs, audit via pull request"

# The staging runbook with PROMOTE and the four names passes them on.
rc=0; RUNBOOK=$bin PROD_DATABASE_URL=$url SIGNOFF_ENGINEERING_LEAD="Ada Lovelace" SIGNOFF_DBA="Edgar Codd" \
  SIGNOFF_SECURITY="Whitfield Diffie" SIGNOFF_PRODUCT_OWNER="Grace Hopper" PITR_OVERRIDE=$pitr \
  "$bin" run --ephemeral-db --confirm PROMOTE --set-env PROD_DATABASE_URL \
  "$dir/ws-promote/runbooks/ehg-housekeeping-staging.md" > "$dir/promote-all" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "PROMOTE with the four sign-offs: exit $rc" "$dir/promote-all"
inner=$(git -C "$dir/ws-promote" log -1 --format='%(trailers:key=Run,valueonly)' \
  --grep='^EHG production promotion: succeeded' refs/heads/runbook-audit | sed '/^$/d')
[ -n "$inner" ] || fail "PROMOTE with the four sign-offs: no successful promotion recorded" "$dir/promote-all"
"$bin" show "$inner" --json --audit-repo "$dir/ws-promote" > "$dir/inner.json" 2>&1 || true
grep -qF 'Edgar Codd' "$dir/inner.json" || fail "the promotion's record does not name the sign-offs" "$dir/inner.json"
echo "staging runbook: PROMOTE with the four sign-offs promotes"
echo "ci examples ok"
