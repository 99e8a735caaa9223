#!/usr/bin/env bash
# Every benchmark, one after the other. Not part of `make test`.
# usage: tests/bench/run-all.sh BINARY
set -euo pipefail
here=$(dirname "$0")
for b in shell-steps sql-steps print audit-commit preflight watchdog copy; do
  echo "== $b"
  "$here/$b.sh" "$1"
  echo
done
