-- durations: "90s", "15m", "1h30m" to seconds, and back.
--
--   local d = require "durations"
--   d.seconds("15m")   --> 900
--   d.format(5400)     --> "1h30m"
local M = {}

local unit = { s = 1, m = 60, h = 3600, d = 86400 }

function M.seconds(text)
  if type(text) == "number" then return text end
  local total, rest = 0, tostring(text)
  if string.match(rest, "^%d+$") then return tonumber(rest) end
  for n, u in string.gmatch(rest, "(%d+)([smhd])") do
    total = total + tonumber(n) * unit[u]
  end
  assert(total > 0 or rest == "0s", "durations: not a duration: " .. rest)
  return total
end

function M.format(seconds)
  seconds = math.floor(seconds)
  if seconds < 60 then return seconds .. "s" end
  local out = ""
  for _, u in ipairs({ { "d", 86400 }, { "h", 3600 }, { "m", 60 }, { "s", 1 } }) do
    local n = seconds // u[2]
    if n > 0 then
      out = out .. n .. u[1]
      seconds = seconds - n * u[2]
    end
  end
  return out
end

return M
