-- Queues (protocol 4.2-4.7): work ordering, scheduled promotion, handing
-- jobs to workers, reclaiming expired locks and throttling.

-- Higher priority first; within a priority, earlier first (protocol 4.2).
function Queue.score(priority, t)
  return priority - (t / 10000000000)
end

function Queue.require_name(queue)
  if queue == nil then
    error('Queue(): no queue name provided')
  end
  return queue
end

-- Move up to `budget` due scheduled jobs to work (all of them if nil).
function Queue.promote(queue, now, budget)
  if budget ~= nil and budget <= 0 then
    return
  end
  local scheduled = Reqless.queue_key(queue, 'scheduled')
  local due
  if budget == nil then
    due = call('zrangebyscore', scheduled, 0, now)
  else
    due = call('zrangebyscore', scheduled, 0, now, 'LIMIT', 0, budget)
  end
  if #due == 0 then
    return
  end
  local work = Reqless.queue_key(queue, 'work')
  for i = 1, #due do
    local key = Reqless.job_key(due[i])
    local priority = tonumber(call('hget', key, 'priority')) or 0
    call('zadd', work, Queue.score(priority, now), due[i])
    call('hset', key, 'state', 'waiting')
  end
  Reqless.call_many('zrem', scheduled, due)
end

-- Make a job wait for throttle `tid` (protocol 4.10).
function Queue.throttle(queue, jid, tid, now, state, legacy)
  call('zadd', 'ql:th:' .. tid .. '-pending', now, jid)
  call('zadd', Reqless.queue_key(queue, 'throttled'), now, jid)
  if state ~= 'throttled' then
    call('hset', Reqless.job_key(jid), 'state', 'throttled')
    History.append(jid, now, 'throttled', { queue = queue }, legacy)
  end
end

-- Hand a job to a worker (protocol 4.5 "hand out"); returns its job object
-- as JSON text, or nil when the job hash has vanished. `f` is the job's
-- HMGET of Job.HAND_OUT_FIELDS when the caller already has it.
function Queue.hand_out(queue, jid, worker, now, lease, f)
  local key = Reqless.job_key(jid)
  if f == nil then
    f = call('hmget', key, unpack(Job.HAND_OUT_FIELDS))
  end
  if not f[1] then
    return nil
  end
  local quoted_worker = encode(worker)
  local when = History.append(jid, now, 'popped', '{"worker":' .. quoted_worker .. '}', f[11])
  -- The entry as History.render_entry would render it, unless the worker's
  -- name sends that down its decoding path.
  local newest
  if not find(quoted_worker, '"wh', 1, true) then
    newest = '{"worker":' .. quoted_worker .. ',"when":' .. when .. ',"what":"popped"}'
  end
  local expires = now + lease
  Stats.sample('wait', queue, now, now - (tonumber(f[12]) or now))
  call('zadd', 'ql:w:' .. worker .. ':jobs', expires, jid)
  call('hset', key, 'time', Reqless.time_text(now), 'worker', worker, 'expires', expires,
    'state', 'running')
  -- A job a retry sent to another queue runs in its own (the one complete,
  -- fail and heartbeat name), so that no running job is away (D-30); only
  -- such a job is handed out by another queue than its field's.
  local home = queue
  if f[13] and f[13] ~= queue then
    home = f[13]
    call('hdel', key, 'in-queue')
  end
  call('zadd', Reqless.queue_key(home, 'locks'), expires, jid)
  local tracked = Job.is_tracked(jid)
  if tracked then
    call('publish', 'ql:popped', jid)
  end
  f[2] = 'running'
  -- The job object shows the hash's queue (2.6). Most jobs handed out have
  -- no dependency edges, so one EXISTS asks before both sets are read; one
  -- left in a work set by a retry into another queue can still depend on others.
  local edges = call('exists', key .. '-dependents', key .. '-dependencies') > 0
  return Job.render(jid, f, f[13], worker, expires, tracked, edges, newest)
end

-- Fail a job whose lock expired once too often (protocol 4.4). The group is
-- named after the job's own queue field, which differs from the popped
-- queue after a retry into another queue; all else is the popped queue's.
function Queue.exhaust(queue, jid, owner, now, f)
  local group = 'failed-retries-' .. tostring(f.queue or queue)
  local message = 'Job exhausted retries in queue "' .. queue .. '"'
  call('zrem', Reqless.queue_key(queue, 'work'), jid)
  call('zrem', Reqless.queue_key(queue, 'locks'), jid)
  call('zrem', Reqless.queue_key(queue, 'scheduled'), jid)
  Throttle.release_all(f.throttles, jid, now)
  History.append(jid, now, 'failed', { group = group }, false)
  call('hset', Reqless.job_key(jid), 'state', 'failed', 'worker', '', 'expires', '',
    'failure', encode({ group = group, message = message, when = now, worker = '' }))
  if f.tracked then
    call('publish', 'ql:failed', jid)
  end
  call('publish', 'ql:log', encode({
    message = message, jid = jid, group = group, event = 'failed', worker = owner,
  }))
  Stats.failure(queue, now)
  Job.file_failure(jid, group, now)
end

-- Act on up to `limit` expired locks (protocol 4.3): a lock-lost notice
-- first, reclamation after the grace period. Returns the jids to hand over.
function Queue.reclaim(queue, now, limit)
  local locks = Reqless.queue_key(queue, 'locks')
  local expired = call('zrangebyscore', locks, '-inf', now, 'LIMIT', 0, limit)
  local handover = {}
  if #expired == 0 then
    return handover
  end
  local grace = Config.number('grace-period')
  for i = 1, #expired do
    local jid = expired[i]
    local key = Reqless.job_key(jid)
    local f = call('hmget', key, 'worker', 'grace', 'remaining', 'throttles', 'history', 'queue')
    local owner = f[1] or ''
    call('zrem', 'ql:w:' .. owner .. ':jobs', jid)
    local tracked = Job.is_tracked(jid)
    local notice = grace <= 0 or not f[2]
    local take = grace <= 0 or f[2]
    if notice then
      if tracked then
        call('publish', 'ql:stalled', jid)
      end
      History.append(jid, now, 'timed-out', nil, f[5])
      call('hset', key, 'grace', 1)
      local event = encode({ jid = jid, event = 'lock_lost', worker = owner })
      call('publish', 'ql:w:' .. owner, event)
      call('publish', 'ql:log', event)
      call('zadd', locks, now + grace, jid)
      Stats.count(queue, now, 'retries', 1)
    end
    if take then
      call('hdel', key, 'grace')
      local remaining = (tonumber(f[3]) or 0) - 1
      call('hset', key, 'remaining', remaining)
      if remaining < 0 then
        Queue.exhaust(queue, jid, owner, now, { throttles = f[4], tracked = tracked, queue = f[6] })
      else
        handover[#handover + 1] = jid
      end
    end
  end
  return handover
end

-- The counts object of protocol 2.8.
function Queue.counts(queue, now)
  local locks = Reqless.queue_key(queue, 'locks')
  local stalled = call('zcount', locks, 0, now)
  Queue.promote(queue, now)
  return {
    name = queue,
    waiting = call('zcard', Reqless.queue_key(queue, 'work')),
    stalled = stalled,
    running = call('zcard', locks) - stalled,
    throttled = call('zcard', Reqless.queue_key(queue, 'throttled')),
    scheduled = call('zcard', Reqless.queue_key(queue, 'scheduled')),
    depends = call('zcard', Reqless.queue_key(queue, 'depends')),
    recurring = call('zcard', Reqless.queue_key(queue, 'recur')),
    paused = call('sismember', 'ql:paused_queues', queue) == 1,
  }
end

function Queue.all_counts(now)
  local names = call('zrange', 'ql:queues', 0, -1)
  local out = {}
  for i = 1, #names do
    out[i] = Queue.counts(names[i], now)
  end
  return out
end
