-- GET wrk.path with `Authorization: Bearer` drawn at random from a file of tokens.
-- Arguments: TOKEN_FILE EXPECTED_STATUS
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local tokens

function init(args)
  tokens = read_lines(args[1])
  expect = tonumber(args[2])
  math.randomseed(os.time())
end

function request()
  return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)] })
end

function response(status, headers, body)
  count_status(status)
end
