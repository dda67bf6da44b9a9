-- Recurring jobs (protocol 2.7, 3.36, 3.48-3.52, 4.9): templates that
-- spawn a child job per elapsed interval, lazily, when their queue is popped
-- or peeked.

function Recurring.key(jid)
  return 'ql:r:' .. jid
end

-- Spawn the children of the queue's due templates, at most `budget` in all.
function Recurring.spawn(queue, now, budget)
  if budget <= 0 then
    return
  end
  local recur = Reqless.queue_key(queue, 'recur')
  local due = call('zrangebyscore', recur, 0, now, 'WITHSCORES', 'LIMIT', 0, budget)
  local moved = 0
  for i = 1, #due, 2 do
    moved = moved + Recurring.spawn_template(queue, due[i], tonumber(due[i + 1]), now, budget - moved)
  end
end

-- One child per elapsed interval of one template, at most `budget`;
-- returns how many were spawned.
function Recurring.spawn_template(queue, template, score, now, budget)
  local recur = Reqless.queue_key(queue, 'recur')
  local key = Recurring.key(template)
  local r = call('hmget', key, 'klass', 'data', 'priority', 'tags', 'retries', 'interval',
    'backlog', 'throttles')
  if not r[1] then
    -- A template deleted behind our back must not spawn empty jobs.
    call('zrem', recur, template)
    return 0
  end
  local interval = tonumber(r[6]) or 0
  local backlog = tonumber(r[7]) or 0
  local priority = tonumber(r[3]) or 0
  local tags = {}
  if r[4] and r[4] ~= '' then
    tags = decode(r[4])
  end
  local s = floor(score)
  if backlog ~= 0 and interval > 0 and (now - s) / interval > backlog then
    s = s + math.ceil((now - s) / interval - backlog) * interval
  end
  local moved = 0
  while s <= now and moved < budget do
    local child = template .. '-' .. call('hincrby', key, 'count', 1)
    Recurring.clear_jid(child, now)
    for t = 1, #tags do
      Job.index_tag(child, tags[t], now)
    end
    call('hset', Reqless.job_key(child), 'jid', child, 'klass', r[1], 'data', r[2],
      'priority', priority, 'tags', r[4] or '{}', 'throttles', r[8] or '[]', 'state', 'waiting',
      'worker', '', 'expires', 0, 'queue', queue, 'retries', r[5] or 0, 'remaining', r[5] or 0,
      'time', Reqless.time_text(s), 'spawned_from_jid', template)
    -- The child's jid may already hold a job with a legacy history field:
    -- the append migrates it first (4.11), so nil, not false.
    History.append(child, s, 'put', { queue = queue })
    call('zadd', Reqless.queue_key(queue, 'work'), Queue.score(priority, s), child)
    s = s + interval
    call('zadd', recur, s, template)
    moved = moved + 1
  end
  return moved
end

-- A child's jid may already hold a job (4.9 says nothing of it). That job
-- leaves every set, list and index that holds it, gives back its throttle
-- slots and its worker, as a re-put's job does, so that the child is the
-- only job there and is handed out once (DEVIATIONS D-29). Its history,
-- tracking and dependents stay with the jid.
function Recurring.clear_jid(jid, now)
  local key = Reqless.job_key(jid)
  local f = call('hmget', key, 'state', 'queue', 'in-queue', 'worker', 'tags', 'failure',
    'throttles')
  local state, queue, worker = f[1], f[2], f[4]
  if not state then
    return
  end
  Job.leave_queues(jid, queue, f[3])
  if worker and worker ~= '' then
    call('zrem', 'ql:w:' .. worker .. ':jobs', jid)
    local event = encode({ jid = jid, event = 'lock_lost', worker = worker })
    call('publish', 'ql:w:' .. worker, event)
    call('publish', 'ql:log', event)
  end
  if state == 'running' or state == 'throttled' then
    Throttle.release_all(f[7], jid, now)
  elseif state == 'complete' then
    call('zrem', 'ql:completed', jid)
  elseif state == 'failed' then
    Job.unfile_failed(jid, queue, f[6], now)
  end
  if f[5] then
    local tags = decode(f[5])
    for i = 1, #tags do
      Job.unindex_tag(jid, tags[i])
    end
  end
  Job.unlink_dependencies(jid)
  call('del', key .. '-dependencies')
  call('hdel', key, 'in-queue', 'scheduled', 'grace')
end

function Recurring.recur(now, a)
  local queue, jid, klass, data = Queue.require_name(a[1]), a[2], a[3], a[4]
  if jid == nil then
    error('Recur(): Arg "jid" missing')
  end
  if klass == nil then
    error('Recur(): Arg "klass" missing')
  end
  Reqless.json(data, 'Recur(): Arg "data" not JSON: ')
  local interval = Reqless.number(a[5], 'Recur(): Arg "interval" not a number: ')
  local offset = Reqless.number(a[6], 'Recur(): Arg "offset" not a number: ')
  if interval <= 0 then
    error('Recur(): Arg "interval" must be greater than 0')
  end
  local options = Reqless.options(a, 7, 'Recur(): Odd number of additional args: ')
  local tags = {}
  if options.tags ~= nil then
    tags = Reqless.json_list(options.tags, 'Recur(): Arg "tags" must be JSON string array: ')
  end
  local priority = Reqless.number(options.priority, 'Recur(): Arg "priority" not a number: ', 0)
  local retries = Reqless.number(options.retries, 'Recur(): Arg "retries" not a number: ', 0)
  local backlog = Reqless.number(options.backlog, 'Recur(): Arg "backlog" not a number: ', 0)
  local throttles = {}
  if options.throttles ~= nil then
    throttles = Reqless.json_list(options.throttles, 'Recur(): Arg "throttles" not JSON array: ')
  end
  local key = Recurring.key(jid)
  local old = call('hmget', key, 'count', 'queue')
  if old[2] then
    call('zrem', Reqless.queue_key(old[2], 'recur'), jid)
    local kept = {}
    for i = 1, #throttles do
      if throttles[i] ~= old[2] then
        kept[#kept + 1] = throttles[i]
      end
    end
    throttles = kept
  end
  throttles[#throttles + 1] = 'ql:q:' .. queue
  call('hset', key, 'jid', jid, 'klass', klass, 'data', data, 'priority', priority,
    'tags', Reqless.tags_text(tags, '{}'), 'state', 'recur', 'queue', queue, 'type', 'interval',
    'count', tonumber(old[1]) or 0, 'interval', interval, 'retries', retries,
    'backlog', backlog, 'throttles', encode(throttles))
  call('zadd', Reqless.queue_key(queue, 'recur'), now + offset, jid)
  call('zadd', 'ql:queues', 'NX', now, queue)
  return jid
end

function Recurring.cancel(now, a)
  local jid = a[1]
  if jid == nil then
    error('Recurring(): no jid provided')
  end
  local key = Recurring.key(jid)
  local queue = call('hget', key, 'queue')
  if queue then
    call('zrem', Reqless.queue_key(queue, 'recur'), jid)
    call('del', key)
  end
  return 1
end

function Recurring.get(now, a)
  local jid = a[1]
  if jid == nil then
    error('Recurring(): no jid provided')
  end
  local r = call('hmget', Recurring.key(jid), 'jid', 'klass', 'state', 'queue', 'priority',
    'interval', 'retries', 'count', 'data', 'tags', 'backlog', 'throttles')
  if not r[1] then
    return nil
  end
  return encode({
    jid = r[1],
    klass = r[2],
    state = r[3],
    queue = r[4],
    priority = tonumber(r[5]),
    interval = tonumber(r[6]),
    retries = tonumber(r[7]),
    count = tonumber(r[8]),
    data = r[9],
    tags = decode(r[10] or '{}'),
    backlog = tonumber(r[11]) or 0,
    throttles = decode(r[12] or '{}'),
  })
end

function Recurring.stored_tags(jid, message)
  if jid == nil then
    error('Recurring(): no jid provided')
  end
  local stored = call('hget', Recurring.key(jid), 'tags')
  if not stored then
    error(message .. jid .. ' does not exist')
  end
  return decode(stored)
end

function Recurring.add_tag(now, a)
  local jid = a[1]
  local tags = Recurring.stored_tags(jid, 'Tag(): Job ')
  local known = {}
  for i = 1, #tags do
    known[i] = tags[i]
  end
  for i = 2, #a do
    if not Reqless.contains(known, a[i]) then
      tags[#tags + 1] = a[i]
    end
  end
  local text = Reqless.tags_text(tags, '[]')
  call('hset', Recurring.key(jid), 'tags', text)
  return text
end

function Recurring.remove_tag(now, a)
  local jid = a[1]
  local tags = Recurring.stored_tags(jid, 'Untag(): Job ')
  local removing = {}
  for i = 2, #a do
    removing[a[i]] = true
  end
  local kept = {}
  for i = 1, #tags do
    if not removing[tags[i]] then
      kept[#kept + 1] = tags[i]
    end
  end
  local text = Reqless.tags_text(kept, '{}')
  call('hset', Recurring.key(jid), 'tags', text)
  return text
end

function Recurring.update(now, a)
  local jid = a[1]
  if jid == nil then
    error('Recurring(): no jid provided')
  end
  local key = Recurring.key(jid)
  local r = call('hmget', key, 'queue', 'interval', 'throttles')
  if not r[1] then
    error('Recur(): No recurring job ' .. jid)
  end
  local queue = r[1]
  for i = 2, #a, 2 do
    local name, value = a[i], a[i + 1]
    if value == nil then
      error('No value provided for ' .. tostring(name))
    end
    if name == 'priority' or name == 'retries' then
      if Reqless.number(value) == nil then
        error('Recur(): Arg "' .. name .. '" must be a number: ' .. value)
      end
      call('hset', key, name, value)
    elseif name == 'interval' then
      local interval = Reqless.number(value, 'Recur(): Arg "interval" must be a number: ')
      local old = tonumber(call('hget', key, 'interval')) or 0
      call('zincrby', Reqless.queue_key(queue, 'recur'), interval - old, jid)
      call('hset', key, 'interval', interval)
    elseif name == 'data' then
      Reqless.json(value, 'Recur(): Arg "data" is not JSON-encoded: ')
      call('hset', key, 'data', value)
    elseif name == 'klass' then
      call('hset', key, 'klass', value)
    elseif name == 'queue' then
      local score = call('zscore', Reqless.queue_key(queue, 'recur'), jid)
      call('zrem', Reqless.queue_key(queue, 'recur'), jid)
      call('zadd', Reqless.queue_key(value, 'recur'), score or now, jid)
      local throttles = decode(call('hget', key, 'throttles') or '{}')
      local kept = {}
      for t = 1, #throttles do
        if throttles[t] ~= 'ql:q:' .. queue then
          kept[#kept + 1] = throttles[t]
        end
      end
      kept[#kept + 1] = 'ql:q:' .. value
      call('hset', key, 'queue', value, 'throttles', encode(kept))
      call('zadd', 'ql:queues', 'NX', now, value)
      queue = value
    elseif name == 'backlog' then
      if Reqless.number(value) == nil then
        error('Recur(): Arg "backlog" not a number: ' .. value)
      end
      call('hset', key, 'backlog', value)
    elseif name == 'throttles' then
      local throttles = Reqless.json_list(value, 'Recur(): Arg "throttles" is not JSON-encoded: ')
      call('hset', key, 'throttles', encode(throttles))
    else
      error('Recur(): Unrecognized option "' .. tostring(name) .. '"')
    end
  end
  return 1
end
