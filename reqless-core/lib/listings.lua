-- Read-only listings across queues (protocol 3.5, 3.24-3.27, 3.53).

function Listings.completed(now, a)
  local offset = Reqless.number(a[1], 'Jobs(): Arg "offset" not a number: ', 0)
  local limit = Reqless.number(a[2], 'Jobs(): Arg "limit" not a number: ', 25)
  return Reqless.list(call('zrevrange', 'ql:completed', offset, offset + limit - 1))
end

function Listings.failure_counts()
  local groups = call('smembers', 'ql:failures')
  local counts = {}
  for i = 1, #groups do
    counts[groups[i]] = call('llen', 'ql:f:' .. groups[i])
  end
  return encode(counts)
end

function Listings.failure_groups(now, a)
  Reqless.number(a[1], 'Failed(): Arg "start" is not a number: ', 0)
  Reqless.number(a[2], 'Failed(): Arg "limit" is not a number: ', 25)
  return Listings.failure_counts()
end

function Listings.failed_by_group(now, a)
  local group = a[1]
  local start = Reqless.number(a[2], 'Failed(): Arg "start" is not a number: ', 0)
  local limit = Reqless.number(a[3], 'Failed(): Arg "limit" is not a number: ', 25)
  if group == nil then
    return Listings.failure_counts()
  end
  local key = 'ql:f:' .. group
  return encode({
    total = call('llen', key),
    jobs = call('lrange', key, start, start + limit - 1),
  })
end

function Listings.tagged(now, a)
  local tag = a[1]
  if tag == nil then
    error('Tag(): Arg "tag" missing')
  end
  local offset = Reqless.number(a[2], 'Tag(): Arg "offset" not a number: ', 0)
  local limit = Reqless.number(a[3], 'Tag(): Arg "limit" not a number: ', 25)
  local key = 'ql:t:' .. tag
  return encode({
    total = call('zcard', key),
    jobs = call('zrange', key, offset, offset + limit - 1),
  })
end

function Listings.tracked(now, a)
  local jids = call('zrange', 'ql:tracked', 0, -1)
  local jobs, expired = {}, {}
  for i = 1, #jids do
    local object = Job.object(jids[i], true)
    if object then
      jobs[#jobs + 1] = object
    else
      expired[#expired + 1] = jids[i]
    end
  end
  return '{"jobs":' .. Reqless.json_array(jobs, '{}') .. ',"expired":' ..
    Reqless.string_array(expired) .. '}'
end

function Listings.top_tags(now, a)
  local offset = Reqless.number(a[1], 'Tag(): Arg "offset" not a number: ', 0)
  local limit = Reqless.number(a[2], 'Tag(): Arg "limit" not a number: ', 25)
  return Reqless.list(call('zrevrangebyscore', 'ql:tags', '+inf', 2, 'LIMIT', offset, limit))
end
