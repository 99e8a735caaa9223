-- window: maintenance windows for gates.
--
--   local window = require "window"
--   return window.inside("02:00", "04:00")            -- UTC, now
--   return window.inside("22:00", "02:00", {at = t})  -- wraps midnight; t in epoch seconds
--
-- inside() returns ok, message: the message says where the clock stands, so a
-- gate can return it as is.
local M = {}

local function minutes(hhmm)
  local h, m = string.match(hhmm, "^(%d%d?):(%d%d)$")
  assert(h, "window: expected HH:MM, got " .. tostring(hhmm))
  h, m = tonumber(h), tonumber(m)
  assert(h < 24 and m < 60, "window: no such time " .. hhmm)
  return h * 60 + m
end

--- Whether the time `opts.at` (default now) falls in [from, to) in UTC.
function M.inside(from, to, opts)
  opts = opts or {}
  local at = opts.at or now()
  local t = os.date("!*t", math.floor(at))
  local cur = t.hour * 60 + t.min
  local a, b = minutes(from), minutes(to)
  local ok
  if a <= b then
    ok = cur >= a and cur < b
  else -- the window wraps midnight
    ok = cur >= a or cur < b
  end
  local clock = string.format("%02d:%02d UTC", t.hour, t.min)
  if ok then
    return true, "inside the maintenance window " .. from .. "-" .. to .. " UTC (now " .. clock .. ")"
  end
  return false, "outside the maintenance window " .. from .. "-" .. to .. " UTC (now " .. clock .. ")"
end

return M
