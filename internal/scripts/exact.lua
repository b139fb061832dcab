-- exact reports whether raw is a whole number that Lua's doubles hold exactly: a stored
-- value beyond 2^53 would be compared and reported wrongly, so it counts as invalid.
local function exact(raw)
  local digits = string.match(raw, '^%-?(%d+)$')
  if not digits then
    return false
  end
  digits = (string.gsub(digits, '^0+(%d)', '%1')) -- compared as text: tonumber would round
  return #digits < 16 or (#digits == 16 and digits <= '9007199254740992')
end
