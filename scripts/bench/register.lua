-- A new account per request: an address unique to the run, thread and count.
local threads = 0

setup = function(thread)
  threads = threads + 1
  thread:set("prefix", string.format("load.%d.%d", os.time(), threads))
end

local counter = 0

request = function()
  counter = counter + 1
  local body = string.format(
    '{"email":"%s.%d@example.com","password":"correct horse battery staple"}', prefix, counter)
  return wrk.format("POST", nil, { ["content-type"] = "application/json" }, body)
end
