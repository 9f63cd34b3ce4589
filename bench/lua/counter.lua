-- A new key per request: "{n}" in the path and body becomes <prefix><counter>.
-- args: method path token body prefix
dofile(os.getenv("COFFER_BENCH_LUA") .. "/report.lua")

local counter = 0
local method, path, token, body, prefix

function init(args)
  method, path, token, body, prefix = args[1], args[2], args[3], args[4], args[5]
end

function request()
  counter = counter + 1
  local n = prefix .. counter
  local p = (path:gsub("{n}", n))
  local b = (body:gsub("{n}", n))
  return wrk.format(method, p, {["X-Vault-Token"] = token, ["Content-Type"] = "application/json"}, b)
end
