#!/usr/bin/env bash
# Signal Harvester staging: without Docker it stops at its first gate (exit 3,
# a clear message); its env-file gates accept a good file and refuse bad ones
# (missing, commented-out and empty keys, unescaped hashes). The whole run
# against stand-ins is tests/cli/harvester-deploy.sh.
set -euo pipefail
bin=$1
src=${RB_SOURCE_DIR:?}
rb=$src/runbooks/signal-harvester-staging.md
fx=$src/tests/fixtures/env
if ! docker version >/dev/null 2>&1; then
  rc=0; out=$("$bin" run --no-audit "$rb" 2>&1) || rc=$?
  [ "$rc" = 3 ] || { echo "without Docker: expected exit 3, got $rc"; echo "$out"; exit 1; }
  grep -q "step 'docker-24': gate closed: Docker is not available here" <<< "$out"
  if grep -q 'compose-2' <<< "$out"; then echo "without Docker: the run went past docker-24"; echo "$out"; exit 1; fi
fi
# Each env-file gate alone: --only keeps the guards before it (the Docker
# gates, closed here), so they are skipped explicitly, approved with --yes.
gate() { # gate STEP ENVFILE -> exit code
  local rc=0
  "$bin" run --no-audit --only "$1" --skip-guards --yes --set "ENV_FILE=$2" "$rb" > /dev/null 2>&1 || rc=$?
  echo "$rc"
}
[ "$(gate env-file-complete "$fx/good.env")" = 0 ]
[ "$(gate bcrypt-escaped "$fx/good.env")" = 0 ]
[ "$(gate env-file-complete "$fx/missing-keys.env")" = 3 ]
out=$("$bin" run --no-audit --only env-file-complete --skip-guards --yes --set "ENV_FILE=$fx/missing-keys.env" "$rb" 2>&1 || true)
grep -q "gate closed: $fx/missing-keys.env: lacks REDIS_PASSWORD, TLS_EMAIL\$" <<< "$out"
# A key only in a comment, or set to nothing (also "" with a comment), is not set.
[ "$(gate env-file-complete "$fx/commented-key.env")" = 3 ]
out=$("$bin" run --no-audit --only env-file-complete --skip-guards --yes --set "ENV_FILE=$fx/commented-key.env" "$rb" 2>&1 || true)
grep -q "gate closed: $fx/commented-key.env: REDIS_PASSWORD is commented out (line 3)\$" <<< "$out"
[ "$(gate env-file-complete "$fx/empty-key.env")" = 3 ]
out=$("$bin" run --no-audit --only env-file-complete --skip-guards --yes --set "ENV_FILE=$fx/empty-key.env" "$rb" 2>&1 || true)
grep -q "gate closed: $fx/empty-key.env: API_HOST is empty (line 4); TLS_EMAIL is empty (line 8)\$" <<< "$out"
[ "$(gate bcrypt-escaped "$fx/commented-key.env")" = 0 ]
[ "$(gate bcrypt-escaped "$fx/unescaped-hash.env")" = 3 ]
[ "$(gate env-file-complete "$fx/nonexistent.env")" = 3 ]
# Without --skip-guards, --only on an env gate checks the Docker gates first.
if ! docker version >/dev/null 2>&1; then
  [ "$(rc=0; "$bin" run --no-audit --only env-file-complete --set "ENV_FILE=$fx/good.env" "$rb" > /dev/null 2>&1 || rc=$?; echo $rc)" = 3 ]
fi
echo "signal harvester gates ok"
