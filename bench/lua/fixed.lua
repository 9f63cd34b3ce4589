-- One fixed request, built once: wrk's fastest path (no Lua per request).
-- args: method path token [body]
dofile(os.getenv("COFFER_BENCH_LUA") .. "/report.lua")

function init(args)
  wrk.method = args[1]
  wrk.path = args[2]
  wrk.headers["X-Vault-Token"] = args[3]
  if args[4] and args[4] ~= "" then
    wrk.body = args[4]
    wrk.headers["Content-Type"] = "application/json"
  end
end
