-- Updates of one key with check-and-set: "{cas}" in the body is the latest version this thread
-- has seen in a response. At concurrency > 1 some writes lose the race (400, counted as non-2xx
-- by both servers alike): that is what cas is for.
-- args: method path token body
dofile(os.getenv("COFFER_BENCH_LUA") .. "/report.lua")

local version = 0
local method, path, token, body

function init(args)
  method, path, token, body = args[1], args[2], args[3], args[4]
  version = tonumber(args[5] or "0")
end

function request()
  local b = (body:gsub("{cas}", tostring(version)))
  return wrk.format(method, path, {["X-Vault-Token"] = token, ["Content-Type"] = "application/json"}, b)
end

function response(status, headers, resp)
  if status == 200 then
    local v = tonumber(resp:match('"version":(%d+)'))
    if v and v > version then
      version = v
    end
  end
end
