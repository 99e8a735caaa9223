#!/usr/bin/env bash
# Hostile Lua in a runbook: a binary chunk offered to every loader the
# sandbox has, runaways inside C library functions (the count hook cannot
# see them), and signals during such a runaway. runbook must refuse, stop
# within its limits, and leave no Lua process behind.
set -euo pipefail
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export RUNBOOK_AUDIT_REPO=$dir/audit
cd "$dir"
now_ms() { date +%s%3N; }
fail() { echo "$*"; for f in out err; do [ -f "$f" ] && sed "s/^/  $f: /" "$f"; done; exit 1; }

# The bytes of a binary chunk: a Lua 5.4 header, then a body no compiler made.
chunk='"\27LuaT\0\25\147\r\n\26\n\4\8\8" .. string.pack("<i8n", 0x5678, 370.5) .. string.rep("\255\1\0\0", 32)'
mkdir lua
printf '\033LuaT\000\031\223\r\n\032\n\004\010\010' > lua/evil.lua
head -c 128 /dev/zero | tr '\0' '\377' >> lua/evil.lua

# Every path at once: each must refuse, and the gate says how many did.
cat > every.md <<MD
# Every loader

\`\`\`lua gate {name=loaders}
local bin = $chunk
local refused = 0
local function try(name, f)
  local ok, fn, err = pcall(f)
  if ok and type(fn) == "function" then error(name .. ": a binary chunk was loaded") end
  refused = refused + 1
  log(name .. " refused: " .. tostring(ok and err or fn))
end
try("load", function() return load(bin) end)
try("load b", function() return load(bin, "x", "b") end)
try("load bt", function() return load(bin, "x", "bt") end)
try("load reader", function() local s = bin return load(function() local c = s s = nil return c end) end)
try("_G[\\\\1load]", function() return _G["\1load"](bin, "x", "b") end)
for k, v in pairs(_G) do
  if type(k) ~= "string" or not k:find("^[%a_]") then
    try("hidden global " .. tostring(k), function() return v(bin, "x", "b") end)
  end
end
try("require", function() return require("evil") end)
assert(string.dump == nil)
return refused == 6, refused .. " of 6 refused"
\`\`\`
MD
rc=0; "$bin" run every.md > out 2> err || rc=$?
[ "$rc" = 0 ] || fail "every loader: expected exit 0, got $rc"
grep -q 'gate open: 6 of 6 refused' out || fail "every loader: not all refused"
grep -q 'load b refused: .*binary chunks are not allowed' out || fail "load b: no clear error"
grep -q 'load refused: .*attempt to load a binary chunk' out || fail "load: no clear error"
grep -q 'require refused: .*attempt to load a binary chunk' out || fail "require: no clear error"

# Each path on its own, unprotected: a gate error (exit 3), never a crash.
i=0
while IFS='|' read -r code want; do
  i=$((i + 1))
  printf '# Direct\n\n```lua gate\nlocal bin = %s\n%s\n```\n' "$chunk" "$code" > direct$i.md
  rc=0; "$bin" run direct$i.md > out 2> err || rc=$?
  [ "$rc" = 3 ] || fail "$code: expected exit 3, got $rc"
  grep -q "$want" err || fail "$code: expected '$want'"
done <<'CASES'
return load(bin, nil, "b")()|binary chunks are not allowed
return assert(load(bin))()|attempt to load a binary chunk
return _G["\1load"](bin, nil, "b")()|attempt to call a nil value
return require("evil")|attempt to load a binary chunk
CASES

# A backtracking pattern runs inside string.find, where the count hook never
# fires: the evaluation is stopped at the 5 s limit, the run exits 3 in < 7 s.
printf '# Backtrack\n\n```lua gate\nreturn string.find(string.rep("a", 3000), string.rep("a-", 12) .. "b")\n```\n' > spin.md
t0=$(now_ms); rc=0; "$bin" run spin.md > out 2> err || rc=$?; t1=$(now_ms)
[ "$rc" = 3 ] || fail "backtracking gate: expected exit 3, got $rc"
grep -q 'time limit exceeded' err || fail "backtracking gate: no time limit message"
[ $((t1 - t0)) -lt 7000 ] || fail "backtracking gate took $((t1 - t0)) ms"
[ $((t1 - t0)) -ge 5000 ] || fail "backtracking gate stopped early ($((t1 - t0)) ms)"

# SIGTERM / SIGINT during that runaway: runbook exits 128 + signal within 1 s
# and no Lua process outlives it.
for sig in TERM INT; do
  want=$((128 + $(kill -l "$sig")))
  "$bin" run "$dir/spin.md" > out 2> err &
  pid=$!
  for _ in $(seq 100); do pgrep -P "$pid" -x runbook-lua > /dev/null && break; sleep 0.05; done
  pgrep -P "$pid" -x runbook-lua > /dev/null || fail "SIG$sig: the gate's Lua process never started"
  sleep 0.3
  t0=$(now_ms)
  kill -s "$sig" "$pid"
  rc=0; wait "$pid" || rc=$?
  t1=$(now_ms)
  [ $((t1 - t0)) -lt 1000 ] || fail "SIG$sig: runbook took $((t1 - t0)) ms to exit"
  [ "$rc" = "$want" ] || fail "SIG$sig: expected exit $want, got $rc"
  grep -q 'interrupted' err out || fail "SIG$sig: not reported as interrupted"
  if pgrep -f "$dir/spin.md" > /dev/null; then pgrep -af "$dir/spin.md"; fail "SIG$sig: a Lua process was left behind"; fi
done
echo "hostile Lua: binary chunks refused, library runaways and signals stop in time"
