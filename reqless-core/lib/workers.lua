-- The worker registry (protocol 3.60-3.62, 4.14): when each worker last
-- popped, and the jobs each one holds locks on.

-- Forget workers idle longer than max-worker-age, with their job sets.
function Workers.prune(now)
  local cutoff = now - Config.number('max-worker-age')
  local idle = call('zrangebyscore', 'ql:workers', 0, cutoff)
  if #idle == 0 then
    return
  end
  for i = 1, #idle do
    call('del', 'ql:w:' .. idle[i] .. ':jobs')
  end
  call('zremrangebyscore', 'ql:workers', 0, cutoff)
end

function Workers.counts(now)
  Workers.prune(now)
  local names = call('zrevrange', 'ql:workers', 0, -1)
  local out = {}
  for i = 1, #names do
    local key = 'ql:w:' .. names[i] .. ':jobs'
    out[i] = {
      name = names[i],
      jobs = call('zcount', key, now, now + 8640000),
      stalled = call('zcount', key, 0, now),
    }
  end
  return out
end

function Workers.cmd_counts(now, a)
  return Reqless.list(Workers.counts(now))
end

function Workers.cmd_jobs(now, a)
  local worker = a[1]
  if worker == nil then
    return encode(Workers.counts(now))
  end
  Workers.prune(now)
  local key = 'ql:w:' .. worker .. ':jobs'
  return encode({
    jobs = call('zrevrangebyscore', key, now + 8640000, now),
    stalled = call('zrevrangebyscore', key, now, 0),
  })
end

function Workers.cmd_forget(now, a)
  Reqless.call_many('zrem', 'ql:workers', a)
end
