-- Each thread follows its own refresh chain: it sends its current token and
-- takes the rotated one from the answer. One connection per thread.
local tokens = {}
for token in string.gmatch(os.getenv("BENCH_REFRESH_TOKENS"), "%S+") do
  table.insert(tokens, token)
end
local next_thread = 1
local threads = {}

setup = function(thread)
  thread:set("token", tokens[next_thread])
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

request = function()
  return wrk.format("POST", nil, { ["content-type"] = "application/json" },
    '{"refresh_token":"' .. token .. '"}')
end

response = function(status, headers, body)
  local rotated = string.match(body, '"refresh_token":"([^"]+)"')
  if rotated then
    token = rotated
  end
end
