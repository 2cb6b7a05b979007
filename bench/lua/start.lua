-- POST /login as the sign-in page's form sends it: a new address each time, the
-- Turnstile dummy token, a same-origin Origin, and a login-binding cookie the bench
-- can derive again from the address (so verify can continue in "the same browser").
-- Each request comes from its own client address (X-Forwarded-For, which doorcode
-- trusts in the benchmark's configuration), as sign-ins from many people would.
-- Arguments: ROUND ORIGIN
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local round, origin
local n = 0

function init(args)
  round = tonumber(args[1])
  origin = args[2]
end

function request()
  n = n + 1
  local email = "s" .. round .. "n" .. n .. "@bench.example"
  local binding = string.format("%08d%024d", round, n)
  local ip = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  return wrk.format("POST", "/login", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Origin"] = origin,
    ["Cookie"] = "doorcode_login=" .. binding,
    ["X-Forwarded-For"] = ip,
  }, "email=" .. email .. "&cf-turnstile-response=XXXX.DUMMY.TOKEN.XXXX")
end

response = nil
