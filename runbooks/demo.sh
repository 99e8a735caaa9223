#!/usr/bin/env bash
# The demo: EHG staging bring-up, then the production promotion, on one
# throwaway PostgreSQL, non-interactively (approvals given with --yes), each
# run committed to the audit repository; ends with the audit log and the
# path of the promotion's HTML report.
#
# usage: runbooks/demo.sh BINARY [AUDIT_REPO]
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
audit=${2:-$(cd "$here/.." && pwd)/build/demo-audit}
report=$(dirname "$audit")/demo-promotion-report.html
mkdir -p "$(dirname "$audit")"
work=$(mktemp -d)
chmod 755 "$work"
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; sleep 0.5; fi
  rm -rf "$work" "${server_dir:-/nonexistent-dir}"
}
trap cleanup EXIT

echo "== 1. Staging bring-up on a throwaway PostgreSQL"
"$bin" run --ephemeral-db --keep-db --audit-repo "$audit" "$here/ehg-staging.md" | tee "$work/staging.out"
url=$(sed -n "s/^  psql '\(.*\)'$/\1/p" "$work/staging.out")
pid=$(sed -n 's/.*keeps running (pid \([0-9]*\)).*/\1/p' "$work/staging.out")
server_dir=$(sed -n 's/.*rm -rf \(.*\)$/\1/p' "$work/staging.out")

echo
echo "== 2. Production promotion (the same server standing in for production)"
# The connection string is a secret: passed through the environment, not argv.
# --yes approves the checklists; the four sign-offs are people's names, which
# --yes never gives. The throwaway server archives no WAL: the PITR override
# says so, and the record keeps it.
PROD_DATABASE_URL=$url "$bin" run --yes --audit-repo "$audit" --set-env PROD_DATABASE_URL \
  --set "BACKUP_DIR=$work" \
  --set "SIGNOFF_ENGINEERING_LEAD=Demo Engineering Lead" --set "SIGNOFF_DBA=Demo Database Admin" \
  --set "SIGNOFF_SECURITY=Demo Security Team" --set "SIGNOFF_PRODUCT_OWNER=Demo Product Owner" \
  --set "PITR_OVERRIDE=demo on a throwaway server without WAL archiving" \
  --report "$report" "$here/ehg-production-promotion.md"

echo
echo "== 3. The audit log: git log refs/heads/runbook-audit in $audit"
git -C "$audit" log -10 --format='%h %ad %s' --date=iso refs/heads/runbook-audit
echo
echo "Records: runbook log --audit-repo $audit; runbook show RUN --audit-repo $audit"
echo "The promotion's report (open it in a browser; the record keeps it as report.html): $report"
