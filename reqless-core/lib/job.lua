-- Jobs (protocol 2.3, 2.6): the job hash, the job object clients receive,
-- and the bookkeeping shared by the commands that move jobs around: tags,
-- dependency edges, queue sets, deletion.

-- The fields Job.render reads, in its order. A pop reads only the first
-- thirteen (it knows the jid, worker and expiry it hands out; the `queue`
-- shown is the hash's, which a retry into another queue leaves behind), and
-- every field read costs the server time; `klass` first: every job hash has it.
-- Job.object reads them all, and `jid` last: a hash without it is no job.
-- Both lists are written out: the EVAL form would derive one on every call.
Job.HAND_OUT_FIELDS = {
  'klass', 'state', 'priority', 'retries', 'remaining', 'data', 'tags', 'failure', 'throttles',
  'spawned_from_jid', 'history', 'time', 'queue',
}
Job.OBJECT_FIELDS = {
  'klass', 'state', 'priority', 'retries', 'remaining', 'data', 'tags', 'failure', 'throttles',
  'spawned_from_jid', 'history', 'time', 'queue', 'worker', 'expires', 'jid',
}

function Job.require_jid(jid)
  if jid == nil then
    error('Job(): no jid provided')
  end
  return jid
end

-- Set by a command that found no ql:tracked key at all, so that it need
-- not ask about each job; Reqless.dispatch resets it before each call.
Job.nothing_tracked = false

function Job.is_tracked(jid)
  if Job.nothing_tracked then
    return false
  end
  return call('zscore', 'ql:tracked', jid) ~= false
end

-- Remove the jid from the five per-queue sets a job can sit in, in its
-- `queue` and, when a retry sent it to another queue, in its `in-queue`
-- (DEVIATIONS D-30); either may be absent.
function Job.leave_queues(jid, queue, in_queue)
  local names = { queue or false, in_queue ~= queue and in_queue or false }
  for i = 1, 2 do
    local name = names[i]
    if name then
      local base = 'ql:q:' .. name .. '-'
      call('zrem', base .. 'work', jid)
      call('zrem', base .. 'locks', jid)
      call('zrem', base .. 'scheduled', jid)
      call('zrem', base .. 'depends', jid)
      call('zrem', base .. 'throttled', jid)
    end
  end
end

-- Job.leave_queues for a job that finishes running: the same removals, but
-- the three sets a running job is rarely in are asked about with one EXISTS
-- first, since most queues have none of them.
function Job.leave_queue_after_running(queue, jid)
  local base = 'ql:q:' .. queue .. '-'
  call('zrem', base .. 'locks', jid)
  call('zrem', base .. 'work', jid)
  local scheduled, depends, throttled = base .. 'scheduled', base .. 'depends', base .. 'throttled'
  if call('exists', scheduled, depends, throttled) > 0 then
    call('zrem', scheduled, jid)
    call('zrem', depends, jid)
    call('zrem', throttled, jid)
  end
end

-- Index one tag for a job (protocol 4.15).
function Job.index_tag(jid, tag, now)
  local name = Reqless.tag_name(tag)
  call('zadd', 'ql:t:' .. name, now, jid)
  call('zincrby', 'ql:tags', 1, name)
end

-- Drop one tag's index entry for a job; the counter falls with it.
function Job.unindex_tag(jid, tag)
  local name = Reqless.tag_name(tag)
  Job.unindex_tag_name(jid, name)
  -- A 15-digit integer tag is indexed under its digits; the reference core
  -- indexed it under Lua's %.14g text (1.2345678901234e+14). An entry it
  -- made for this job goes too, so no index outlives the job (DEVIATIONS D-14).
  if type(tag) == 'number' then
    local legacy = tostring(tag)
    if legacy ~= name and call('zscore', 'ql:t:' .. legacy, jid) then
      Job.unindex_tag_name(jid, legacy)
    end
  end
end

function Job.unindex_tag_name(jid, name)
  call('zrem', 'ql:t:' .. name, jid)
  if call('zcard', 'ql:t:' .. name) == 0 then
    call('zrem', 'ql:tags', name)
  else
    call('zincrby', 'ql:tags', -1, name)
  end
end

-- Delete a job and its tag index entries, history and dependency set.
function Job.delete(jid, tags)
  if tags == nil then
    tags = call('hget', Reqless.job_key(jid), 'tags')
  end
  if tags then
    local list = decode(tags)
    for i = 1, #list do
      Job.unindex_tag(jid, list[i])
    end
  end
  local key = Reqless.job_key(jid)
  call('del', key, key .. '-history', key .. '-dependencies')
end

-- Add "jid depends on dep" for each dep that exists and is not complete;
-- returns how many edges were added. `placing` is set by a put, which adds
-- the edges after it has written the job (3.35 steps 11-12): a job listing
-- itself then depends on itself, whatever its state was.
function Job.depend_on(jid, deps, placing)
  local added = 0
  for i = 1, #deps do
    local dep = deps[i]
    local state
    if placing and dep == jid then
      state = 'waiting'
    else
      state = call('hget', Reqless.job_key(dep), 'state')
    end
    if state and state ~= 'complete' then
      call('sadd', Reqless.job_key(dep) .. '-dependents', jid)
      call('sadd', Reqless.job_key(jid) .. '-dependencies', dep)
      added = added + 1
    end
  end
  return added
end

function Job.remove_edge(jid, dep)
  call('srem', Reqless.job_key(jid) .. '-dependencies', dep)
  call('srem', Reqless.job_key(dep) .. '-dependents', jid)
end

-- The jobs `jid` depends on stop listing it as a dependent; its own
-- dependencies set is the caller's to drop (Job.delete does).
function Job.unlink_dependencies(jid)
  local dependencies = call('smembers', Reqless.job_key(jid) .. '-dependencies')
  for i = 1, #dependencies do
    call('srem', Reqless.job_key(dependencies[i]) .. '-dependents', jid)
  end
end

-- A job whose dependencies are all gone leaves the depends set: for its
-- deferred `scheduled` time if it has one, else straight to work.
function Job.release_from_depends(jid, now, honour_schedule)
  local fields = call('hmget', Reqless.job_key(jid), 'queue', 'priority', 'scheduled')
  local queue = fields[1]
  -- The empty name is a queue like any other (only an absent field is none).
  if not queue then
    return
  end
  call('zrem', Reqless.queue_key(queue, 'depends'), jid)
  if honour_schedule and fields[3] then
    call('zadd', Reqless.queue_key(queue, 'scheduled'), fields[3], jid)
    call('hset', Reqless.job_key(jid), 'state', 'scheduled')
    call('hdel', Reqless.job_key(jid), 'scheduled')
  else
    call('zadd', Reqless.queue_key(queue, 'work'), Queue.score(tonumber(fields[2]) or 0, now), jid)
    call('hset', Reqless.job_key(jid), 'state', 'waiting')
  end
end

-- After `jid` completed: every dependent loses the edge, and those left
-- with no dependencies move on (protocol 4.8).
function Job.release_dependents(jid, now)
  local key = Reqless.job_key(jid) .. '-dependents'
  local dependents = call('smembers', key)
  if #dependents == 0 then
    return
  end
  for i = 1, #dependents do
    local dependent = dependents[i]
    call('srem', Reqless.job_key(dependent) .. '-dependencies', jid)
    if call('scard', Reqless.job_key(dependent) .. '-dependencies') == 0 then
      Job.release_from_depends(dependent, now, true)
    end
  end
  call('del', key)
end

-- Record a failure in its group list (newest first) and the group set,
-- then apply failed-job retention (EXTENSIONS.md), which may delete this
-- very job: callers write nothing to the job after this.
function Job.file_failure(jid, group, now)
  call('sadd', 'ql:failures', group)
  call('lpush', 'ql:f:' .. group, jid)
  Job.expire_failed(now, group)
end

-- Most failed jobs one failure deletes, so that setting a retention on a
-- large backlog spreads the work over the failures that follow.
Job.EXPIRE_FAILED_CHUNK = 100

-- Failed-job retention (EXTENSIONS.md): unset, failed jobs are kept until
-- put, unfailed or cancelled, as the protocol has it. `failed-jobs-history`
-- deletes those that failed at least that many seconds ago, from every
-- group; `failed-jobs-history-count` keeps the newest that many of the
-- group that just grew. Each group list is newest first, so its tail holds
-- the oldest.
function Job.expire_failed(now, group)
  local limits = call('hmget', 'ql:config', 'failed-jobs-history', 'failed-jobs-history-count')
  local age, count = Reqless.number(limits[1]), Reqless.number(limits[2])
  if age == nil and count == nil then
    return
  end
  local budget = Job.EXPIRE_FAILED_CHUNK
  local groups = { group }
  if age ~= nil then
    groups = call('smembers', 'ql:failures')
  end
  for i = 1, #groups do
    if budget <= 0 then
      return
    end
    budget = budget - Job.expire_failed_group(groups[i], age and now - age, count, budget)
  end
end

-- Delete up to `budget` of a group's oldest failed jobs that failed at or
-- before `cutoff` (nil: none by age) or lie past the newest `count` (nil:
-- none by count). A job others still depend on is kept: deleting it would
-- leave them waiting on a job that is gone. Returns how many went.
function Job.expire_failed_group(group, cutoff, count, budget)
  local key = 'ql:f:' .. group
  local oldest = call('lrange', key, -budget, -1)
  -- Position from the head (newest first) of oldest[i], minus i: deleting
  -- older entries leaves the positions of newer ones as they are.
  local first = -1
  if count ~= nil then
    first = call('llen', key) - #oldest - 1
    count = floor(count)
  end
  local deleted = 0
  for i = #oldest, 1, -1 do
    local jid = oldest[i]
    local job = Reqless.job_key(jid)
    local f = call('hmget', job, 'failure', 'queue', 'tags')
    local failure = f[1] and decode(f[1]) or {}
    local when = tonumber(failure.when) or 0
    local expired = (count ~= nil and first + i >= count) or (cutoff ~= nil and when <= cutoff)
    if not expired then
      break
    end
    if call('exists', job .. '-dependents') == 0 then
      call('lrem', key, -1, jid)
      Stats.uncount_failed(f[2], when)
      Job.unlink_dependencies(jid)
      Job.delete(jid, f[3])
      deleted = deleted + 1
    end
  end
  if call('llen', key) == 0 then
    call('srem', 'ql:failures', group)
  end
  return deleted
end

-- Take a jid out of a failure group, dropping the group when it empties.
function Job.leave_failure_group(jid, group)
  local key = 'ql:f:' .. group
  call('lrem', key, 0, jid)
  if call('llen', key) == 0 then
    call('srem', 'ql:failures', group)
  end
end

-- Unfile a failed job that is going away or starting over (job.cancel, a
-- recurring spawn onto its jid: DEVIATIONS D-29): out of its failure group,
-- and one fewer on the `failed` count of the day it failed. `failure` is the
-- job hash's field as stored; a failure with no group was never filed.
function Job.unfile_failed(jid, queue, failure, now)
  if not failure then
    return
  end
  local decoded = decode(failure)
  if decoded.group then
    Job.leave_failure_group(jid, decoded.group)
    Stats.uncount_failed(queue, tonumber(decoded.when) or now)
  end
end

-- A JSON list field as stored (cjson text), the way a decode/encode round
-- trip would show it: cjson writes every empty list as "{}".
function Job.list_text(text)
  if not text or text == '' or text == '[]' then
    return '{}'
  end
  return text
end

-- The job object of protocol 2.6 as JSON text, from the job's fields read
-- with HMGET Job.HAND_OUT_FIELDS (or OBJECT_FIELDS). Built by hand, in one
-- concatenation: stored lists and objects are already cjson text, and
-- re-encoding them costs more than the rest of a pop. `edges` false tells
-- that the job has neither dependents nor dependencies (nil: look), and
-- `newest` is History.render's. Fields every writer sets (queue, priority,
-- retries, data) read as empty or 0 on a hash that lacks them.
function Job.render(jid, f, queue, worker, expires, tracked, edges, newest)
  local key = Reqless.job_key(jid)
  local dependents, dependencies = Job.NO_EDGES, Job.NO_EDGES
  if edges ~= false then
    dependents = call('smembers', key .. '-dependents')
    dependencies = call('smembers', key .. '-dependencies')
  end
  local failure = f[8]
  if not failure or failure == '' then
    failure = '{}'
  end
  return '{"jid":' .. encode(jid)
    .. ',"klass":' .. encode(f[1])
    .. ',"state":' .. encode(f[2])
    .. ',"queue":' .. encode(queue or '')
    .. ',"worker":' .. encode(worker or '')
    .. ',"tracked":' .. (tracked and 'true' or 'false')
    .. ',"priority":' .. Reqless.number_text(f[3], false)
    .. ',"expires":' .. (tonumber(expires) or 0)
    .. ',"retries":' .. Reqless.number_text(f[4], false)
    .. ',"remaining":' .. Reqless.number_text(f[5], true)
    .. ',"data":' .. encode(f[6] or '')
    .. ',"tags":' .. Job.list_text(f[7])
    .. ',"history":' .. Reqless.json_array(History.render(jid, newest), '{}')
    .. ',"failure":' .. failure
    .. ',"throttles":' .. Job.list_text(f[9])
    .. ',"spawned_from_jid":' .. (f[10] and encode(f[10]) or 'false')
    .. ',"dependents":' .. Reqless.string_array(dependents)
    .. ',"dependencies":' .. Reqless.string_array(dependencies)
    .. '}'
end

-- Never written to: what Job.render shows for a job with no edges.
Job.NO_EDGES = {}

-- The job object's JSON text, or nil if there is no job. `tracked` may be
-- passed when the caller already knows it.
function Job.object(jid, tracked)
  local f = call('hmget', Reqless.job_key(jid), unpack(Job.OBJECT_FIELDS))
  if not f[16] then
    return nil
  end
  if f[11] then
    History.migrate(jid, f[11])
  end
  if tracked == nil then
    tracked = Job.is_tracked(jid)
  end
  return Job.render(jid, f, f[13], f[14], f[15], tracked)
end

-- Job objects for a list of jids, skipping the ones that no longer exist.
function Job.objects(jids)
  local out = {}
  for i = 1, #jids do
    local object = Job.object(jids[i])
    if object then
      out[#out + 1] = object
    end
  end
  return out
end
