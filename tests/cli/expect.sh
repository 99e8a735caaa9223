#!/usr/bin/env bash
# expect= is decided before the result line: a step whose expect= does not
# hold never says "ok"; its error shows the variables the expression read
# (secrets hidden); with retry= the next attempt may make it hold; the
# failure handler runs after it; --from starting at it behaves the same.
set -u
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
fail() { echo "FAIL: $*"; echo "--- out"; cat out 2>/dev/null; exit 1; }
cat > e.md <<'MD'
---
on_failure: Clean up
secrets: [API_TOKEN]
---
# Expect

## Work

```bash {name=count capture=COUNT}
echo 3
```

```bash {name=token capture=API_TOKEN}
echo tok-5ecret-value
```

```bash {name=check expect="tonumber(vars.COUNT) > 5 and vars.API_TOKEN ~= ''"}
echo checking
```

```bash {name=after}
touch after.ran
```

## Clean up

```bash {name=cleanup}
touch cleanup.ran
```
MD

# 1. Does not hold: the step fails without an "ok" first, the error shows
#    what the expression read (the secret hidden), the handler runs.
"$bin" run --no-audit e.md > out 2>&1
[ $? = 1 ] || fail "expect= that does not hold: expected exit 1"
grep -q '^\[3/4\] ok' out && fail "the step said ok before expect= failed"
grep -q '^\[3/4\] failed: expect= does not hold in ' out || fail "the result line does not say expect= failed"
grep -q "step 'check': expect=tonumber(vars.COUNT) > 5 and vars.API_TOKEN ~= '' does not hold (it read vars.COUNT = '3', vars.API_TOKEN = '\*\*\*')" out ||
  fail "the error does not show the values read"
grep -q 'tok-5ecret-value' out && fail "the secret was shown"
[ -e cleanup.ran ] && [ ! -e after.ran ] || fail "the handler did not run, or the next step did"

# 2. Holds: "ok" once, after the check; the run goes on.
sed -i 's/> 5/> 2/' e.md
rm -f ./*.ran
"$bin" run --no-audit e.md > out 2>&1 || fail "expect= that holds: the run failed"
[ "$(grep -c '^\[3/4\] ok in ' out)" = 1 ] || fail "the step did not say ok exactly once"
[ -e after.ran ] || fail "the next step did not run"

# 3. retry=: the first attempt does not hold, the second does (a counter file).
cat > r.md <<'MD'
# Retry

```bash {name=flaky capture=N retry=1}
n=$(cat n 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > n; echo "$n"
```

```lua {name=noop}
```
MD
sed -i 's/```bash {name=flaky capture=N retry=1}/```bash {name=flaky capture=N retry=1 expect="vars.N == '"'"'2'"'"'"}/' r.md
"$bin" run --no-audit r.md > out 2>&1 || fail "retry after expect=: the run failed"
grep -q '^\[1/2\] failed: expect= does not hold' out && grep -q '^\[1/2\] retrying (attempt 2 of 2)' out &&
  [ "$(grep -c '^\[1/2\] ok in ' out)" = 1 ] || fail "the retry after expect= is not said as it happened"

# 4. --from the expect= step: the same decision (COUNT comes from --set: its step is not run).
sed -i 's/> 2/> 5/' e.md
"$bin" run --no-audit --from check --set COUNT=4 --set API_TOKEN=x-token-x e.md > out 2>&1
[ $? = 1 ] || fail "--from: expected exit 1"
grep -q "it read vars.COUNT = '4'" out || fail "--from: the value given with --set is not shown"
echo "expect: ok"
