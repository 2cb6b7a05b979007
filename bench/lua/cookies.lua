-- GET wrk.path carrying a session cookie drawn at random from a file.
-- Arguments: COOKIE_FILE COOKIE_NAME [EXPECTED_STATUS]
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local cookies, name

function init(args)
  cookies = read_lines(args[1])
  name = args[2]
  expect = tonumber(args[3])
  if expect == nil then
    response = nil
  end
  math.randomseed(os.time())
end

function request()
  return wrk.format(nil, nil, { ["Cookie"] = name .. "=" .. cookies[math.random(#cookies)] })
end

function response(status, headers, body)
  count_status(status)
end
