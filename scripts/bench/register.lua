-- A new account per request: unique per thread and counter.
local counter = 0
local thread_id = tostring(math.random(1, 1000000000))

request = function()
  counter = counter + 1
  local body = string.format(
    '{"email":"load.%s.%d@example.com","password":"correct horse battery staple"}',
    thread_id, counter)
  return wrk.format("POST", nil, { ["content-type"] = "application/json" }, body)
end
