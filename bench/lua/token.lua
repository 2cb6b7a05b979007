-- POST /oidc/token exchanging each authorization code of a file once, with the
-- client's Basic credentials. Running out of codes reuses them; doorcode then
-- answers 400, which counts, so a run that needed more codes than were seeded
-- cannot pass.
-- Arguments: CODE_FILE BASIC_CREDENTIALS REDIRECT_URI
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local requests
local i = 0

function init(args)
  expect = 200
  requests = {}
  for _, code in ipairs(read_lines(args[1])) do
    requests[#requests + 1] = wrk.format("POST", "/oidc/token", {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Authorization"] = "Basic " .. args[2],
    }, "grant_type=authorization_code&code=" .. code .. "&redirect_uri=" .. args[3])
  end
end

function request()
  i = i + 1
  return requests[(i - 1) % #requests + 1]
end

function response(status, headers, body)
  count_status(status)
end
