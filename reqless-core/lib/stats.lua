-- Per-day, per-queue statistics (protocol 2.9, 4.13): wait and run time
-- samples kept as a running mean/variance (Welford) plus a histogram, and
-- the failures/failed/retries counters.

-- The histogram field a sample falls into: s0..s59, m1..m59, h1..h23, d1...
-- Negative samples (clock skew) land in s-1, s-2, ... and are never reported.
-- Turning the number into text is the costly step, and most samples fall in
-- the sixty seconds buckets: those names are remembered as they come up (the
-- Function library keeps them across calls).
Stats.seconds = {}

function Stats.bucket(value)
  local v = floor(value)
  if v < 60 then
    local name = Stats.seconds[v]
    if name == nil then
      name = 's' .. v
      if v >= 0 then
        Stats.seconds[v] = name
      end
    end
    return name
  elseif v < 3600 then
    return 'm' .. floor(v / 60)
  elseif v < 86400 then
    return 'h' .. floor(v / 3600)
  end
  return 'd' .. floor(v / 86400)
end

-- Record one sample of `kind` ('wait' or 'run') for `queue` on the day of
-- `now`: one read and one write, the histogram bucket included.
function Stats.sample(kind, queue, now, value)
  local key = 'ql:s:' .. kind .. ':' .. Reqless.day(now) .. ':' .. queue
  local bucket = Stats.bucket(value)
  local current = call('hmget', key, 'total', 'mean', 'vk', bucket)
  local total = tonumber(current[1]) or 0
  local in_bucket = (tonumber(current[4]) or 0) + 1
  if total == 0 then
    call('hset', key, 'total', 1, 'mean', value, 'vk', 0, bucket, in_bucket)
  else
    local mean = tonumber(current[2]) or 0
    local vk = tonumber(current[3]) or 0
    total = total + 1
    local new_mean = mean + (value - mean) / total
    vk = vk + (value - new_mean) * (value - mean)
    call('hset', key, 'total', total, 'mean', new_mean, 'vk', vk, bucket, in_bucket)
  end
end

function Stats.count(queue, now, field, by)
  call('hincrby', 'ql:s:stats:' .. Reqless.day(now) .. ':' .. queue, field, by)
end

-- One failed job fewer on its queue's `failed` count for the day it failed,
-- when a cancel, a spawn onto its jid or failed-job retention takes it away.
-- An absent counter stays absent: the reference's cancel crashes on one
-- (DEVIATIONS D-2), and a put's HINCRBY would make it -1.
function Stats.uncount_failed(queue, when)
  local key = 'ql:s:stats:' .. Reqless.day(when) .. ':' .. tostring(queue)
  local failed = tonumber(call('hget', key, 'failed'))
  if failed then
    call('hset', key, 'failed', failed - 1)
  end
end

-- The failures and failed counters move together on every failure.
function Stats.failure(queue, now)
  local key = 'ql:s:stats:' .. Reqless.day(now) .. ':' .. queue
  call('hincrby', key, 'failures', 1)
  call('hincrby', key, 'failed', 1)
end

function Stats.summary(kind, queue, day)
  local fields = call('hgetall', 'ql:s:' .. kind .. ':' .. day .. ':' .. queue)
  local stored = {}
  for i = 1, #fields, 2 do
    stored[fields[i]] = tonumber(fields[i + 1])
  end
  local histogram = {}
  for i = 0, 59 do
    histogram[#histogram + 1] = stored['s' .. i] or 0
  end
  for i = 1, 59 do
    histogram[#histogram + 1] = stored['m' .. i] or 0
  end
  for i = 1, 23 do
    histogram[#histogram + 1] = stored['h' .. i] or 0
  end
  for i = 1, 6 do
    histogram[#histogram + 1] = stored['d' .. i] or 0
  end
  local count = stored.total or 0
  local std = 0
  if count > 1 then
    std = math.sqrt((stored.vk or 0) / (count - 1))
  end
  return { count = count, mean = stored.mean or 0, std = std, histogram = histogram }
end

function Stats.cmd_stats(now, a)
  local queue = a[1]
  if queue == nil then
    error('Queue(): no queue name provided')
  end
  local date = Reqless.number(a[2], 'Stats(): Arg "date" missing or not a number: ')
  local day = Reqless.day(date)
  local counters = call('hmget', 'ql:s:stats:' .. day .. ':' .. queue, 'retries', 'failed', 'failures')
  return encode({
    retries = tonumber(counters[1]) or 0,
    failed = tonumber(counters[2]) or 0,
    failures = tonumber(counters[3]) or 0,
    wait = Stats.summary('wait', queue, day),
    run = Stats.summary('run', queue, day),
  })
end
