-- The queue.* and queues.* commands (protocol 3.28-3.47).

-- Everything queue.put checks, before anything is written (protocol 3.35).
function QueueCommands.parse_put(a)
  local worker, queue, jid, klass, data = a[1], a[2], a[3], a[4], a[5]
  Queue.require_name(queue)
  if jid == nil then
    error('Put(): Arg "jid" missing')
  end
  if klass == nil then
    error('Put(): Arg "klass" missing')
  end
  Reqless.check_json(data, 'Put(): Arg "data" missing or not JSON: ')
  local delay = Reqless.number(a[6], 'Put(): Arg "delay" not a number: ')
  local options = Reqless.options(a, 7, 'Odd number of additional args: ')
  -- Every field named up front, the optional ones as nil, sizes the table
  -- once instead of growing it field by field.
  local put = {
    worker = worker, queue = queue, jid = jid, klass = klass, data = data, delay = delay,
    options = options, retries = nil, tags = nil, priority = nil, depends = nil, throttles = nil,
  }
  if options.retries ~= nil then
    put.retries = Reqless.number(options.retries, 'Put(): Arg "retries" not a number: ')
  end
  if options.tags ~= nil then
    put.tags = Reqless.json_list(options.tags, 'Put(): Arg "tags" not JSON')
    for i = 1, #put.tags do
      local kind = type(put.tags[i])
      if kind ~= 'string' and kind ~= 'number' then
        error('Put(): Arg "tags" not JSON' .. options.tags)
      end
    end
  end
  if options.priority ~= nil then
    put.priority = Reqless.number(options.priority, 'Put(): Arg "priority" not a number')
  end
  if options.depends ~= nil then
    put.depends = Reqless.json_list(options.depends, 'Put(): Arg "depends" not JSON: ')
  end
  put.throttles = {}
  if options.throttles ~= nil then
    put.throttles = Reqless.json_list(options.throttles, 'Put(): Arg "throttles" not JSON array: ')
  end
  return put
end

function QueueCommands.put(now, a)
  return QueueCommands.place(now, QueueCommands.parse_put(a))
end

function QueueCommands.requeue(now, a)
  local jid = a[3]
  if jid == nil then
    error('Requeue(): Arg "jid" missing')
  end
  if call('exists', Reqless.job_key(jid)) == 0 then
    error('Requeue(): Job ' .. jid .. ' does not exist')
  end
  return QueueCommands.put(now, a)
end

-- Write a validated put (protocol 3.35 effects 1-15).
function QueueCommands.place(now, put)
  local jid, queue, worker = put.jid, put.queue, put.worker
  local key = Reqless.job_key(jid)
  -- Most puts are of new jobs, to a queue with no throttle definition (so
  -- unlimited), with nothing tracked: one EXISTS tells; only a re-put reads
  -- the old fields.
  local queue_throttle = 'ql:q:' .. queue
  local throttle_key = 'ql:th:' .. queue_throttle
  local old_state, old_queue, old_worker, old_priority, old_tags, old_retries, old_failure, legacy =
    false, false, false, false, false, false, false, false
  local old_in_queue, old_throttles = false, false
  local quiet = call('exists', key, throttle_key, 'ql:tracked') == 0
  if not quiet then
    if call('exists', key) == 1 then
      old_state, old_queue, old_worker, old_priority, old_tags, old_retries, old_failure, legacy,
        old_in_queue, old_throttles =
        unpack(call('hmget', key, 'state', 'queue', 'worker', 'priority', 'tags', 'retries',
          'failure', 'history', 'in-queue', 'throttles'))
    end
    quiet = call('exists', throttle_key, 'ql:tracked') == 0
  end
  if quiet then
    Throttle.known_unlimited(queue_throttle)
    Job.nothing_tracked = true
  end
  local tags = put.tags
  if old_tags then
    old_tags = decode(old_tags)
    for i = 1, #old_tags do
      Job.unindex_tag(jid, old_tags[i])
    end
    if tags == nil then
      tags = old_tags
    end
  end
  local priority = put.priority or tonumber(old_priority) or 0
  local retries = put.retries or tonumber(old_retries) or 5
  local depends = put.depends
  if depends and #depends > 0 then
    local wanted = {}
    for i = 1, #depends do
      wanted[depends[i]] = true
    end
    local current = call('smembers', key .. '-dependencies')
    for i = 1, #current do
      if not wanted[current[i]] then
        Job.remove_edge(jid, current[i])
      end
    end
  end
  local quoted_queue = encode(queue)
  call('publish', 'ql:log', '{"jid":' .. encode(jid) .. ',"event":"put","queue":' ..
    quoted_queue .. '}')
  History.append(jid, now, 'put', '{"queue":' .. quoted_queue .. '}', legacy)
  local throttles = put.throttles
  -- Out of its old place, and of the queue a retry sent it to (D-30).
  if old_queue or old_in_queue then
    Job.leave_queues(jid, old_queue, old_in_queue)
  end
  if old_queue then
    local kept = {}
    for i = 1, #throttles do
      if throttles[i] ~= 'ql:q:' .. old_queue then
        kept[#kept + 1] = throttles[i]
      end
    end
    throttles = kept
  end
  if old_in_queue then
    call('hdel', key, 'in-queue')
  end
  -- A running job re-put stops running: it gives back the throttle slots it
  -- holds (4.10 keeps them, but nothing would ever release the ones its new
  -- throttle list leaves out), before its new place is decided (D-31).
  if old_state == 'running' then
    Throttle.release_all(old_throttles, jid, now)
  end
  if old_worker and old_worker ~= '' then
    call('zrem', 'ql:w:' .. old_worker .. ':jobs', jid)
    if old_worker ~= worker then
      local event = encode({ jid = jid, event = 'lock_lost', worker = old_worker })
      call('publish', 'ql:w:' .. old_worker, event)
      call('publish', 'ql:log', event)
    end
  end
  if old_state == 'complete' then
    call('zrem', 'ql:completed', jid)
  end
  local tags_text = '{}'
  if tags and #tags > 0 then
    tags_text = Reqless.tags_text(tags, '{}')
    for i = 1, #tags do
      Job.index_tag(jid, tags[i], now)
    end
  end
  if old_state == 'failed' and old_failure then
    local failure = decode(old_failure)
    if failure.group then
      Job.leave_failure_group(jid, failure.group)
      Stats.count(queue, tonumber(failure.when) or now, 'failed', -1)
    end
  end
  throttles[#throttles + 1] = queue_throttle
  if depends then
    Job.depend_on(jid, depends, true)
  end
  -- A new job has edges only if this put gave it some.
  local has_dependencies = false
  if old_state or (depends and #depends > 0) then
    has_dependencies = call('scard', key .. '-dependencies') > 0
  end
  local state = 'waiting'
  local blocked_by
  if has_dependencies then
    state = 'depends'
  elseif put.delay > 0 then
    state = 'scheduled'
  elseif not (quiet and #throttles == 1) then
    -- (Alone, the queue's own throttle is unlimited on a quiet put.)
    blocked_by = Throttle.first_unavailable(throttles)
  end
  -- A small hash keeps its fields in a list that every read and write
  -- scans from the start: the fields the hot commands use come first.
  call('hset', key, 'state', state, 'worker', '', 'queue', queue, 'time', Reqless.time_text(now),
    'expires', 0, 'throttles', Reqless.string_array(throttles), 'retries', retries,
    'remaining', retries, 'priority', priority, 'klass', put.klass, 'data', put.data,
    'tags', tags_text, 'jid', jid)
  if has_dependencies then
    call('zadd', Reqless.queue_key(queue, 'depends'), now, jid)
    if put.delay > 0 then
      call('hset', key, 'scheduled', now + put.delay)
    end
  elseif put.delay > 0 then
    call('zadd', Reqless.queue_key(queue, 'scheduled'), now + put.delay, jid)
  elseif blocked_by then
    Queue.throttle(queue, jid, blocked_by, now, 'waiting', false)
  else
    call('zadd', Reqless.queue_key(queue, 'work'), Queue.score(priority, now), jid)
  end
  call('zadd', 'ql:queues', 'NX', now, queue)
  if Job.is_tracked(jid) then
    call('publish', 'ql:put', jid)
  end
  return jid
end

function QueueCommands.pop(now, a)
  local queue, worker = Queue.require_name(a[1]), a[2]
  if worker == nil then
    error('Pop(): Arg "worker" missing')
  end
  local limit = Reqless.number(a[3], 'Pop(): Arg "limit" missing or not a number: ')
  -- Most pops find no queue paused, no recurring or scheduled jobs, no
  -- throttle definition and nothing tracked: one EXISTS tells, instead of a
  -- look-up for each.
  local queue_throttle = 'ql:q:' .. queue
  local recur, scheduled = Reqless.queue_key(queue, 'recur'), Reqless.queue_key(queue, 'scheduled')
  local throttle_key = 'ql:th:' .. queue_throttle
  local quiet = call('exists', 'ql:paused_queues', recur, scheduled, 'ql:tracked', throttle_key) == 0
  if not quiet then
    if call('sismember', 'ql:paused_queues', queue) == 1 then
      return '[]'
    end
    quiet = call('exists', recur, scheduled, 'ql:tracked', throttle_key) == 0
  end
  call('zadd', 'ql:workers', now, worker)
  if limit <= 0 then
    return '[]'
  end
  -- Only what every pop needs: the grace period matters only to an expired
  -- lock, the history limit only to a history past two entries.
  local lease, tries = Config.queue_numbers(queue, 'heartbeat', 'max-pop-retry')
  if quiet then
    Throttle.known_unlimited(queue_throttle)
    Job.nothing_tracked = true
  end
  local popped = {}
  local reclaimed = Queue.reclaim(queue, now, limit)
  for i = 1, #reclaimed do
    local object = Queue.hand_out(queue, reclaimed[i], worker, now, lease)
    if object then
      popped[#popped + 1] = object
    end
  end
  if not Throttle.available(queue_throttle) then
    return Reqless.json_array(popped, '[]')
  end
  if not quiet then
    local budget = limit - #reclaimed
    Recurring.spawn(queue, now, budget)
    Queue.promote(queue, now, budget)
  end
  local work = Reqless.queue_key(queue, 'work')
  local only_queue_throttle
  while #popped < limit and tries > 0 do
    -- Every jid taken leaves the work set, handed out or not: ZPOPMAX reads
    -- and removes them in one call, in ZREVRANGE's order.
    local taken = call('zpopmax', work, limit - #popped)
    if #taken == 0 then
      break
    end
    -- A quiet queue's throttle has no definition, so a job throttled by it
    -- alone (its `throttles` field is this text) needs no parsing or check.
    if only_queue_throttle == nil then
      only_queue_throttle = quiet and '[' .. encode(queue_throttle) .. ']'
    end
    -- Should handing one out fail, the batch goes back with its scores
    -- before the error goes on: the work set is left as a failed pop found
    -- it, as when jids were read first and removed after.
    local ok, failure = pcall(QueueCommands.take, queue, worker, now, lease, taken, popped,
      only_queue_throttle)
    if not ok then
      local scored = {}
      for i = 1, #taken, 2 do
        scored[i], scored[i + 1] = taken[i + 1], taken[i]
      end
      Reqless.call_many('zadd', work, scored)
      error(failure, 0)
    end
    tries = tries - 1
  end
  return Reqless.json_array(popped, '[]')
end

-- Hand out or throttle each job of a ZPOPMAX reply (jid, score, ...),
-- appending the job objects to `popped`.
function QueueCommands.take(queue, worker, now, lease, taken, popped, only_queue_throttle)
  for i = 1, #taken, 2 do
    local jid = taken[i]
    local f = call('hmget', Reqless.job_key(jid), unpack(Job.HAND_OUT_FIELDS))
    if only_queue_throttle and f[9] == only_queue_throttle and f[1] then
      call('zadd', 'ql:th:ql:q:' .. queue .. '-locks', 1, jid)
      popped[#popped + 1] = Queue.hand_out(queue, jid, worker, now, lease, f)
    elseif f[1] then
      local tids = Throttle.parse_list(f[9])
      local blocked_by = Throttle.first_unavailable(tids)
      if blocked_by then
        Queue.throttle(queue, jid, blocked_by, now, f[2], f[11])
      else
        Throttle.acquire(tids, jid)
        popped[#popped + 1] = Queue.hand_out(queue, jid, worker, now, lease, f)
      end
    end
  end
end

function QueueCommands.peek(now, a)
  local queue = Queue.require_name(a[1])
  local offset = Reqless.number(a[2], 'Peek(): Arg "offset" missing or not a number: ')
  local limit = Reqless.number(a[3], 'Peek(): Arg "limit" missing or not a number: ')
  if limit <= 0 then
    return '[]'
  end
  local expired = call('zrangebyscore', Reqless.queue_key(queue, 'locks'), '-inf', now,
    'LIMIT', 0, offset + limit)
  local budget = offset + limit - #expired
  Recurring.spawn(queue, now, budget)
  Queue.promote(queue, now, budget)
  local work = Reqless.queue_key(queue, 'work')
  local jids
  if offset > #expired then
    jids = call('zrevrange', work, offset - #expired, offset - #expired + limit - 1)
  else
    local combined = expired
    if budget > 0 then
      local waiting = call('zrevrange', work, 0, budget - 1)
      for i = 1, #waiting do
        combined[#combined + 1] = waiting[i]
      end
    end
    jids = {}
    for i = offset + 1, offset + limit do
      jids[#jids + 1] = combined[i]
    end
  end
  return Reqless.json_array(Job.objects(jids), '[]')
end

function QueueCommands.counts(now, a)
  if a[1] == nil then
    return encode(Queue.all_counts(now))
  end
  return encode(Queue.counts(a[1], now))
end

function QueueCommands.all_counts(now, a)
  return Reqless.list(Queue.all_counts(now))
end

function QueueCommands.names(now, a)
  return Reqless.list(call('zrange', 'ql:queues', 0, -1))
end

function QueueCommands.length(now, a)
  local queue = Queue.require_name(a[1])
  return call('zcard', Reqless.queue_key(queue, 'locks'))
    + call('zcard', Reqless.queue_key(queue, 'work'))
    + call('zcard', Reqless.queue_key(queue, 'scheduled'))
end

function QueueCommands.pause(now, a)
  Reqless.call_many('sadd', 'ql:paused_queues', a)
end

function QueueCommands.unpause(now, a)
  Reqless.call_many('srem', 'ql:paused_queues', a)
end

function QueueCommands.forget(now, a)
  Reqless.call_many('zrem', 'ql:queues', a)
end

function QueueCommands.jobs_by_state(now, a)
  local state = a[1]
  if state == nil then
    error('Jobs(): Arg "state" missing')
  end
  if state == 'complete' then
    return Listings.completed(now, { a[2], a[3] })
  end
  local queue = a[2]
  if queue == nil then
    error('Jobs(): Arg "queue" missing')
  end
  local offset = Reqless.number(a[3], 'Jobs(): Arg "offset" not a number: ', 0)
  local limit = Reqless.number(a[4], 'Jobs(): Arg "limit" not a number: ', 25)
  local key
  if state == 'running' then
    return Reqless.list(call('zrangebyscore', Reqless.queue_key(queue, 'locks'), now, '+inf',
      'LIMIT', offset, limit))
  elseif state == 'stalled' then
    return Reqless.list(call('zrangebyscore', Reqless.queue_key(queue, 'locks'), '-inf', now,
      'LIMIT', offset, limit))
  elseif state == 'recurring' then
    return Reqless.list(call('zrangebyscore', Reqless.queue_key(queue, 'recur'), 0, '+inf',
      'LIMIT', offset, limit))
  elseif state == 'scheduled' then
    Queue.promote(queue, now)
    key = 'scheduled'
  elseif state == 'throttled' or state == 'depends' then
    key = state
  else
    error('Jobs(): Unknown type "' .. state .. '"')
  end
  return Reqless.list(call('zrange', Reqless.queue_key(queue, key), offset, offset + limit - 1))
end

function QueueCommands.unfail(now, a)
  local queue, group = a[1], a[2]
  if queue == nil then
    error('queue.unfail(): Arg "queue" missing')
  end
  if group == nil then
    error('Unfail(): Arg "group" missing')
  end
  local count = Reqless.number(a[3], 'Unfail(): Arg "count" not a number: ', 25)
  if count <= 0 then
    error('Unfail(): Arg "count" must be greater than zero')
  end
  local key = 'ql:f:' .. group
  local jids = call('lrange', key, -count, -1)
  local work = Reqless.queue_key(queue, 'work')
  for i = 1, #jids do
    local jid = jids[i]
    local job_key = Reqless.job_key(jid)
    local f = call('hmget', job_key, 'retries', 'priority', 'history', 'jid')
    -- A vanished job only leaves the list; writing fields would forge a job.
    if f[4] then
      History.append(jid, now, 'put', { queue = queue }, f[3])
      local retries = tonumber(f[1]) or 5
      call('hset', job_key, 'state', 'waiting', 'worker', '', 'expires', 0, 'queue', queue,
        'remaining', retries)
      call('zadd', work, Queue.score(tonumber(f[2]) or 0, now), jid)
    end
  end
  call('ltrim', key, 0, -count - 1)
  if call('llen', key) == 0 then
    call('srem', 'ql:failures', group)
  end
  return #jids
end
