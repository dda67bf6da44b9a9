-- Throttles (protocol 4.10): a definition hash with a maximum, a set of
-- holders (score 1) and a set of waiters (score = time they started waiting).

-- Throttle maxima read during one command (a pop checks the queue
-- throttle once per job); Reqless.dispatch drops it before each call
-- (false), and the first reader or Throttle.known_unlimited makes it.
Throttle.maximums = false

function Throttle.maximum(tid)
  local maximums = Reqless.per_call(Throttle, 'maximums')
  local maximum = maximums[tid]
  if maximum == nil then
    maximum = tonumber(call('hget', 'ql:th:' .. tid, 'maximum')) or 0
    maximums[tid] = maximum
  end
  return maximum
end

-- Note, at the start of a command, that throttle `tid` has no definition.
function Throttle.known_unlimited(tid)
  Throttle.maximums = { [tid] = 0 }
end

function Throttle.available(tid)
  local maximum = Throttle.maximum(tid)
  return maximum == 0 or call('zcard', 'ql:th:' .. tid .. '-locks') < maximum
end

-- The first throttle of the list that is not available, or nil.
function Throttle.first_unavailable(tids)
  for i = 1, #tids do
    if not Throttle.available(tids[i]) then
      return tids[i]
    end
  end
  return nil
end

function Throttle.acquire(tids, jid)
  for i = 1, #tids do
    call('zadd', 'ql:th:' .. tids[i] .. '-locks', 1, jid)
  end
end

-- Release `jid` from throttle `tid`, then move as many waiters back to their
-- work queues as the throttle now has room for (10 when unlimited).
-- `no_waiters` says the caller already knows the pending set is empty.
function Throttle.release(tid, jid, now, no_waiters)
  local base = 'ql:th:' .. tid
  local held = call('zrem', base .. '-locks', jid) == 1
  if no_waiters then
    return
  end
  if not held then
    call('zrem', base .. '-pending', jid)
  end
  -- Nobody waiting is the common case; it needs no look at the maximum.
  if call('zcard', base .. '-pending') == 0 then
    return
  end
  local maximum = tonumber(call('hget', base, 'maximum')) or 0
  local room = 10
  if maximum ~= 0 then
    room = maximum - call('zcard', base .. '-locks')
  end
  if room < 1 then
    return
  end
  local waiting = call('zrange', base .. '-pending', 0, room - 1)
  for i = 1, #waiting do
    local fields = call('hmget', Reqless.job_key(waiting[i]), 'queue', 'priority', 'state', 'in-queue')
    local queue = fields[4] or fields[1]
    -- Only a job still waiting for a throttle goes back to work: one that was
    -- re-put, popped or finished since must not be queued a second time.
    if fields[3] == 'throttled' and queue then
      call('zrem', Reqless.queue_key(queue, 'throttled'), waiting[i])
      call('zadd', Reqless.queue_key(queue, 'work'), Queue.score(tonumber(fields[2]) or 0, now), waiting[i])
    end
  end
  call('zremrangebyrank', base .. '-pending', 0, room - 1)
end

-- A job's `throttles` field (JSON text) as a list. Almost every job has
-- just its queue throttle, which needs no decoder.
function Throttle.parse_list(text)
  if not text or text == '' then
    return {}
  end
  local only = match(text, '^%["([^"\\]*)"%]$')
  if only then
    return { only }
  end
  return decode(text)
end

-- Release every throttle in a job's `throttles` field (JSON text).
function Throttle.release_all(throttles, jid, now)
  local tids = Throttle.parse_list(throttles)
  for i = 1, #tids do
    Throttle.release(tids[i], jid, now)
  end
end

function Throttle.require_tid(tid)
  if tid == nil then
    error('Throttle(): no tid provided')
  end
  return tid
end

function Throttle.describe(tid)
  local key = 'ql:th:' .. tid
  return encode({
    id = tid,
    maximum = tonumber(call('hget', key, 'maximum')) or 0,
    ttl = call('ttl', key),
  })
end

function Throttle.set(tid, maximum, expiration)
  local key = 'ql:th:' .. tid
  call('hset', key, 'id', tid, 'maximum', maximum)
  if expiration > 0 then
    call('expire', key, expiration)
  end
end

function Throttle.cmd_set(now, a)
  local tid = Throttle.require_tid(a[1])
  local maximum = Reqless.number(a[2], 'Throttle(): Arg "maximum" not a number: ')
  local expiration = Reqless.number(a[3], 'Throttle(): Arg "expiration" not a number: ', 0)
  Throttle.set(tid, maximum, expiration)
end

function Throttle.cmd_get(now, a)
  return Throttle.describe(Throttle.require_tid(a[1]))
end

function Throttle.cmd_delete(now, a)
  call('del', 'ql:th:' .. Throttle.require_tid(a[1]))
end

function Throttle.cmd_locks(now, a)
  return Reqless.list(call('zrange', 'ql:th:' .. Throttle.require_tid(a[1]) .. '-locks', 0, -1))
end

function Throttle.cmd_pending(now, a)
  return Reqless.list(call('zrange', 'ql:th:' .. Throttle.require_tid(a[1]) .. '-pending', 0, -1))
end

function Throttle.cmd_release(now, a)
  local tid = Throttle.require_tid(a[1])
  for i = 2, #a do
    Throttle.release(tid, a[i], now)
  end
end

function Throttle.cmd_queue_get(now, a)
  return Throttle.describe('ql:q:' .. Queue.require_name(a[1]))
end

function Throttle.cmd_queue_set(now, a)
  local queue = Queue.require_name(a[1])
  local maximum = Reqless.number(a[2], 'Throttle(): Arg "maximum" not a number: ')
  Throttle.set('ql:q:' .. queue, maximum, 0)
end
