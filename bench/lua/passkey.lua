-- POST /api/v1/passkeys/sign-in with each prepared answer of a file once (a
-- ceremony id and the authenticator's signed answer). Running out of answers
-- reuses them; doorcode then answers 400, which counts, so a run that needed more
-- than were prepared cannot pass.
-- Arguments: BODY_FILE
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local requests
local i = 0

function init(args)
  expect = 200
  requests = {}
  for _, body in ipairs(read_lines(args[1])) do
    requests[#requests + 1] = wrk.format("POST", "/api/v1/passkeys/sign-in", {
      ["Content-Type"] = "application/json",
    }, body)
  end
end

function request()
  i = i + 1
  return requests[(i - 1) % #requests + 1]
end

function response(status, headers, body)
  count_status(status)
end
