#!/usr/bin/env bash
# Signal Harvester staging end to end, against stand-ins: a `docker` script on
# PATH (tests/fixtures/harvester/docker) and an HTTP server on 127.0.0.1
# (tests/fixtures/harvester/server.py) playing the API and the dashboards.
# Good answers: the whole runbook succeeds, from the checkout's root or with
# REPO_DIR. Then each bad answer alone stops the step that must catch it, with
# its exit code and message: a degraded or non-JSON API, a dashboard answering
# 401 to a wrong password or 200 without one, a compose warning on stderr, a
# commented-out or empty env key, no rate-limit header, no Docker daemon.
set -euo pipefail
bin=$1
src=${RB_SOURCE_DIR:?}
rb=$src/runbooks/signal-harvester-staging.md
fx=$src/tests/fixtures
for tool in python3 curl jq make; do
  command -v "$tool" > /dev/null || { echo "$tool is needed (Debian package $tool)"; exit 1; }
done
tmp=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2> /dev/null || true; wait "$server_pid" 2> /dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/bin" "$tmp/state" "$tmp/repo" "$tmp/elsewhere" "$tmp/tmp"
cp "$fx/harvester/docker" "$tmp/bin/docker"
chmod 755 "$tmp/bin/docker"
cp "$fx/harvester/Makefile" "$fx/harvester/docker-compose.staging.yml" "$tmp/repo/"
cp "$fx/env/good.env" "$tmp/repo/.env.staging"
export PATH="$tmp/bin:$PATH" HARVESTER_DOCKER_LOG=$tmp/docker.log HARVESTER_DOCKER_STATE=$tmp/state TMPDIR=$tmp/tmp
[ "$(command -v docker)" = "$tmp/bin/docker" ]

echo '{}' > "$tmp/state/http.json"
python3 "$fx/harvester/server.py" "$tmp/state/http.json" "$tmp/port" 2> "$tmp/http.log" &
server_pid=$!
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "the HTTP stand-in did not start"; cat "$tmp/http.log"; exit 1; }
base=http://127.0.0.1:$(cat "$tmp/port")

# The passwords the stand-in expects; Grafana's has the characters curl's
# config syntax escapes.
printf '%s\n' 'GRAFANA_PASSWORD=gr"af\ana: pw' PROMETHEUS_PASSWORD=prometheus-pw \
  ALERTMANAGER_PASSWORD=alertmanager-pw > "$tmp/secrets"
printf '%s\n' 'GRAFANA_PASSWORD=not-the-password' > "$tmp/wrong-grafana"
chmod 600 "$tmp/secrets" "$tmp/wrong-grafana"

state() { printf '%s\n' "$1" > "$tmp/state/http.json"; }
fail() { echo "$*"; echo "--- output"; cat "$tmp/out"; echo "--- docker calls"; cat "$tmp/docker.log" 2> /dev/null || true; exit 1; }
run() { # run EXPECTED-EXIT [ARGS...]: the runbook, from the current directory
  local want=$1 rc=0
  shift
  : > "$tmp/docker.log"
  : > "$tmp/http.log"
  "$bin" run --no-audit --secrets-file "$tmp/secrets" \
    --set "API_URL=$base" --set "GRAFANA_URL=$base/grafana" \
    --set "PROMETHEUS_URL=$base/prometheus" --set "ALERTMANAGER_URL=$base/alertmanager" \
    --set HEALTH_ATTEMPTS=2 --set HEALTH_DELAY=0 "$@" "$rb" > "$tmp/out" 2>&1 || rc=$?
  [ "$rc" = "$want" ] || fail "expected exit $want, got $rc (args: $*)"
}
has() { grep -qF -- "$1" "$tmp/out" || fail "output lacks: $1"; }
lacks() { ! grep -qF -- "$1" "$tmp/out" || fail "output has: $1"; }
stopped_at() { # stopped_at STEP KIND-MESSAGE: the run stopped at STEP, nothing after it ran
  grep -qE "^$rb:[0-9]+:1: step '$1': $2" "$tmp/out" || fail "did not stop at '$1' with '$2'"
  [ "$(grep -cE "^$rb:[0-9]+:1: step '" "$tmp/out")" = 1 ] || fail "more than one step failed"
}
deployed() { grep -qF "$(printf '%s\tcompose --env-file .env.staging -f docker-compose.staging.yml up -d' "$1")" "$tmp/docker.log"; }

# 1. Good answers, from the checkout's root (REPO_DIR left at "."): every step
# runs, in the checkout, and the dashboards are asked without and with
# credentials.
cd "$tmp/repo"
run 0
has "Signal Harvester checkout: $tmp/repo"
has "gate open: .env.staging sets all 11 required keys"
has "$base/health/ready: healthy"
has "$base/health/startup: healthy"
has "grafana: $base/grafana/api/health -> 200 as admin"
has "prometheus: $base/prometheus/-/healthy -> 200 as metrics"
has "alertmanager: $base/alertmanager/-/healthy -> 200 as alerts"
has "X-RateLimit-Limit: 100"
has "Done: 16 ok, 0 failed"
deployed "$tmp/repo" || fail "make staging-stack-up did not deploy from $tmp/repo"
grep -qF "$(printf '%s\tcompose --env-file .env.staging -f docker-compose.staging.yml config' "$tmp/repo")" "$tmp/docker.log" \
  || fail "compose config did not run in $tmp/repo"
for d in grafana/api/health prometheus/-/healthy alertmanager/-/healthy; do
  grep -qx "GET /$d user=-" "$tmp/http.log" || fail "/$d not asked without credentials"
done
grep -qx 'GET /grafana/api/health user=admin' "$tmp/http.log" || fail "grafana not asked as admin"
# The passwords never reach the output.
! grep -qF 'prometheus-pw' "$tmp/out" || fail "a password was printed"

# 2. From elsewhere with REPO_DIR, absolute and relative to where runbook started.
cd "$tmp/elsewhere"
run 0 --set "REPO_DIR=$tmp/repo"
has "Done: 16 ok, 0 failed"
deployed "$tmp/repo" || fail "REPO_DIR=$tmp/repo: not deployed from there"
cd "$tmp"
run 0 --set REPO_DIR=./repo
has "Signal Harvester checkout: $tmp/repo"
deployed "$tmp/repo" || fail "REPO_DIR=./repo: not deployed from $tmp/repo"

# 3. From a directory that is not the checkout, REPO_DIR left at ".": the
# runbook looks there (not beside itself) and stops before deploying.
cd "$tmp/elsewhere"
run 3
stopped_at repo-files "gate closed: $tmp/elsewhere/Makefile with a staging-stack-up target is missing"
! grep -q 'compose --env-file' "$tmp/docker.log" || fail "compose ran outside the checkout"
cd "$tmp/repo"

# 4. The API answers 200 with {"status":"degraded"}: asked HEALTH_ATTEMPTS
# times, then the health step fails; the dashboards are not checked.
state '{"status": "degraded"}'
run 1
stopped_at api-health "failed with exit code 1"
[ "$(grep -cF "$base/health/ready: status \"degraded\" (\"healthy\" expected)" "$tmp/out")" = 2 ] \
  || fail "degraded: expected 2 attempts"
has "API not healthy after 2 attempts"
lacks "$base/health/startup"
! grep -q '^GET /grafana' "$tmp/http.log" || fail "dashboards checked after a degraded API"
# An answer that is not JSON.
state '{"raw": "OK"}'
run 1
stopped_at api-health "failed with exit code 1"
has "$base/health/ready: the answer is not JSON: OK"
state '{}'

# 5. Grafana answers 401 to a wrong password: the dashboards step fails, naming
# it; the other dashboards are still checked and reported.
run 1 --secrets-file "$tmp/wrong-grafana"
stopped_at dashboards "failed with exit code 1"
has "grafana: $base/grafana/api/health answered 401 to user admin: wrong GRAFANA_PASSWORD"
has "prometheus: $base/prometheus/-/healthy -> 200 as metrics"
has "alertmanager: $base/alertmanager/-/healthy -> 200 as alerts"
# Dashboards that answer without credentials.
state '{"auth": false}'
run 1
stopped_at dashboards "failed with exit code 1"
has "grafana: $base/grafana/api/health answered HTTP 200 without credentials (401 expected): basic auth is not enforced"
has "alertmanager: $base/alertmanager/-/healthy answered HTTP 200 without credentials (401 expected): basic auth is not enforced"
state '{}'
# No passwords at all: refused before anything is deployed.
run 3 --set GRAFANA_PASSWORD= --set ALERTMANAGER_PASSWORD=
stopped_at dashboard-credentials "gate closed: basic-auth passwords not given: GRAFANA_PASSWORD, ALERTMANAGER_PASSWORD"
! grep -q 'compose --env-file' "$tmp/docker.log" || fail "compose ran without passwords"

# 6. A compose warning on stderr (exit 0, as Compose does): compose-config
# fails, shows it, and nothing is deployed.
printf '%s\n' 'WARN[0000] The "REDIS_PASSWORD" variable is not set. Defaulting to a blank string.' > "$tmp/state/warn"
run 1
stopped_at compose-config "failed with exit code 1"
has "docker compose config warned; fix .env.staging or docker-compose.staging.yml before deploying:"
has '  WARN[0000] The "REDIS_PASSWORD" variable is not set. Defaulting to a blank string.'
! deployed "$tmp/repo" || fail "deployed after a compose warning"
rm "$tmp/state/warn"

# 7. Env keys only commented out, or empty: the env gate names them; nothing
# is deployed.
cp "$fx/env/commented-key.env" "$tmp/repo/.env.staging"
run 3
stopped_at env-file-complete "gate closed: .env.staging: REDIS_PASSWORD is commented out \\(line 3\\)$"
! grep -q 'compose --env-file' "$tmp/docker.log" || fail "compose ran with a commented-out key"
cp "$fx/env/empty-key.env" "$tmp/repo/.env.staging"
run 3
stopped_at env-file-complete "gate closed: .env.staging: API_HOST is empty \\(line 4\\); TLS_EMAIL is empty \\(line 8\\)$"
! grep -q 'compose --env-file' "$tmp/docker.log" || fail "compose ran with an empty key"
# An ENV_FILE other than the .env.staging that make deploys.
cp "$fx/env/good.env" "$tmp/repo/.env.staging"
cp "$fx/env/good.env" "$tmp/repo/other.env"
run 3 --set ENV_FILE=other.env
stopped_at repo-files "gate closed: ENV_FILE other.env is not $tmp/repo/.env.staging"

# 8. No rate-limit header.
state '{"ratelimit": false}'
run 1
stopped_at rate-limit-headers "failed with exit code 1"
has "$base/health/live sent no X-RateLimit-Limit header"
state '{}'

# 9. No Docker daemon: the first gate stops the run, nothing else is asked.
touch "$tmp/state/down"
run 3
stopped_at docker-24 "gate closed: Docker is not available here \\(\`docker version\` failed: Cannot connect to the Docker daemon"
lacks compose-2
rm "$tmp/state/down"

# And the good answers still pass after all this.
run 0
has "Done: 16 ok, 0 failed"
echo "signal harvester deploy ok"
