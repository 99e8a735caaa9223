-- backup: is a backup file there, not empty, and fresh?
--
--   local backup = require "backup"
--   return backup.fresh("backups/prod.dump", "15m")
--
-- fresh() returns ok, message, ready to be a gate's result.
local durations = require "durations"
local M = {}

function M.fresh(path, max_age, opts)
  opts = opts or {}
  local limit = durations.seconds(max_age)
  if not file.exists(path) then
    return false, "no backup at " .. path
  end
  local size = file.size(path)
  if size == 0 then
    return false, "the backup at " .. path .. " is empty"
  end
  local age = (opts.at or now()) - file.mtime(path)
  if age > limit then
    return false, string.format("the backup at %s is %s old (limit %s)", path,
      durations.format(age), durations.format(limit))
  end
  return true, string.format("backup %s: %d bytes, %s old", path, size, durations.format(age))
end

return M
