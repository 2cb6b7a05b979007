-- POST /login/verify with the right code, once for each prepared sign-in: a file of
-- `binding challenge code` lines, made from the codes the SMTP sink received.
-- Running out of sign-ins reuses them; doorcode then answers 400, which counts as
-- an error, so a run that needed more sign-ins than were prepared cannot pass.
-- Arguments: SIGN_IN_FILE ORIGIN
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local requests, origin
local i = 0

function init(args)
  origin = args[2]
  requests = {}
  for _, line in ipairs(read_lines(args[1])) do
    local binding, challenge, code = line:match("^(%S+) (%S+) (%S+)$")
    requests[#requests + 1] = wrk.format("POST", "/login/verify", {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Origin"] = origin,
      ["Cookie"] = "doorcode_login=" .. binding,
    }, "challenge=" .. challenge .. "&code=" .. code .. "&first_name=Bench&last_name=Verify")
  end
end

function request()
  i = i + 1
  return requests[(i - 1) % #requests + 1]
end

response = nil
