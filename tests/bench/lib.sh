# Sourced by the benchmarks that need PostgreSQL: one throwaway server for
# all their measurements, started by runbook itself (--keep-db) and removed
# at exit with the scratch directory.
#   bench_server BINARY   sets work (a scratch directory, mode 755) and url
. "$(dirname "${BASH_SOURCE[0]}")/../cli/lib/kept.sh"
bench_server() {
  work=$(mktemp -d)
  chmod 755 "$work"
  trap 'rm -rf "$work"' EXIT
  printf '# start\n\n```sql\nSELECT 1;\n```\n' > "$work/start.md"
  "$1" run --ephemeral-db --keep-db "$work/start.md" > "$work/start.out"
  kept_server "$work/start.out" || { cat "$work/start.out"; exit 1; }
  bench_pid=$pid bench_srv=$srv
  trap 'kill "$bench_pid" 2>/dev/null || true; sleep 0.5; rm -rf "$work" "$bench_srv"' EXIT
}
