-- The job.* commands (protocol 3.6-3.23): finishing, failing, retrying and
-- steering one job at a time.

-- Read `fields` (state and worker first) of a job that `worker` must hold
-- while it runs; each command words its refusals its own way (Appendix A).
-- Only a heartbeat also refuses a job held by the empty worker name (3.14);
-- complete, fail and retry refuse a *different* worker only.
function JobCommands.held(key, worker, refusals, fields, refuse_empty)
  local f = call('hmget', key, unpack(fields))
  if not f[1] then
    error(refusals[1])
  elseif f[1] ~= 'running' then
    error(refusals[2] .. f[1])
  elseif f[2] ~= worker or (refuse_empty and f[2] == '') then
    error(refusals[3] .. tostring(f[2]))
  end
  return f
end

JobCommands.COMPLETE = {
  'Complete(): Job does not exist',
  'Complete(): Job is not currently running: ',
  'Complete(): Job has been handed out to another worker: ',
}
JobCommands.COMPLETE_FIELDS = { 'state', 'worker', 'queue', 'time', 'throttles', 'retries', 'history' }
JobCommands.FAIL = {
  'Fail(): Job does not exist',
  'Fail(): Job not currently running: ',
  'Fail(): Job running with another worker: ',
}
JobCommands.FAIL_FIELDS = { 'state', 'worker', 'queue', 'throttles', 'history' }
JobCommands.RETRY = {
  'Retry(): Job does not exist',
  'Retry(): Job is not currently running: ',
  'Retry(): Job has been given to another worker: ',
}
JobCommands.RETRY_FIELDS = { 'state', 'worker', 'queue', 'throttles', 'remaining', 'priority', 'history' }
JobCommands.HEARTBEAT = {
  'Heartbeat(): Job does not exist',
  'Heartbeat(): Job not currently running: ',
  'Heartbeat(): Job given out to another worker: ',
}
JobCommands.HEARTBEAT_FIELDS = { 'state', 'worker', 'queue' }

-- Validate a complete/completeAndRequeue call and do what both share
-- (protocol 3.9 steps 1-5); returns the job's fields for the rest.
function JobCommands.finish(now, a, next_queue, options)
  local jid, worker, queue, data = Job.require_jid(a[1]), a[2], a[3], a[4]
  if worker == nil then
    error('Complete(): Arg "worker" missing')
  end
  if queue == nil then
    error('Complete(): Arg "queue_name" missing')
  end
  Reqless.check_json(data, 'Complete(): Arg "data" missing or not JSON: ')
  local key = Reqless.job_key(jid)
  local f = JobCommands.held(key, worker, JobCommands.COMPLETE, JobCommands.COMPLETE_FIELDS)
  if f[3] ~= queue then
    error('Complete(): Job running in another queue: ' .. tostring(f[3]))
  end
  -- Usually nothing is tracked, nobody depends on the job, nobody waits
  -- for its throttles, and its queue has none of the three sets a running
  -- job is rarely in: one EXISTS tells all that, instead of a look-up for
  -- each; only when it finds a key does a second EXISTS tell which it was.
  local tids = Throttle.parse_list(f[5])
  local base = 'ql:q:' .. queue .. '-'
  local scheduled, depends, throttled = base .. 'scheduled', base .. 'depends', base .. 'throttled'
  local found
  if #tids == 1 then
    -- The usual case, asked without building the key list.
    found = call('exists', scheduled, depends, throttled, 'ql:tracked', key .. '-dependents',
      'ql:th:' .. tids[1] .. '-pending')
  else
    local watched = { scheduled, depends, throttled, 'ql:tracked', key .. '-dependents' }
    for i = 1, #tids do
      watched[#watched + 1] = 'ql:th:' .. tids[i] .. '-pending'
    end
    found = call('exists', unpack(watched))
  end
  local in_sets = 0
  if found > 0 then
    in_sets = call('exists', scheduled, depends, throttled)
  end
  local quiet = found == in_sets
  if quiet then
    Job.nothing_tracked = true
  end
  History.append(jid, now, 'done', nil, f[7])
  -- All five sets (3.9 step 2): a running job is usually only in the locks,
  -- but a retry into another queue or a spawn onto an existing jid can leave
  -- it in others, and a finished job left there would be handed out again.
  call('zrem', base .. 'locks', jid)
  call('zrem', base .. 'work', jid)
  if in_sets > 0 then
    call('zrem', scheduled, jid)
    call('zrem', depends, jid)
    call('zrem', throttled, jid)
  end
  for i = 1, #tids do
    Throttle.release(tids[i], jid, now, quiet)
  end
  Stats.sample('run', queue, now, now - (tonumber(f[4]) or now))
  call('zrem', 'ql:w:' .. worker .. ':jobs', jid)
  if Job.is_tracked(jid) then
    call('publish', 'ql:completed', jid)
  end
  return jid, key, queue, f[6], quiet
end

function JobCommands.complete(now, a)
  Config.prefetch('max-job-history', 'jobs-history', 'jobs-history-count')
  local jid, key, queue, retries, quiet = JobCommands.finish(now, a)
  call('publish', 'ql:log', '{"jid":' .. encode(jid) .. ',"event":"completed","queue":' ..
    encode(queue) .. '}')
  call('hset', key, 'data', a[4], 'time', Reqless.time_text(now), 'state', 'complete',
    'worker', '', 'failure', '{}', 'queue', '', 'expires', 0, 'remaining', retries)
  call('zadd', 'ql:completed', now, jid)
  JobCommands.expire_completed(now)
  if not quiet then
    Job.release_dependents(jid, now)
  end
  return 'complete'
end

-- Completed-job retention (protocol 4.12): by age, then by count.
function JobCommands.expire_completed(now)
  local age = Config.number('jobs-history')
  local count = Config.number('jobs-history-count')
  local old = call('zrangebyscore', 'ql:completed', 0, now - age)
  if #old > 0 then
    for i = 1, #old do
      Job.delete(old[i])
    end
    call('zremrangebyscore', 'ql:completed', 0, now - age)
  end
  if call('zcard', 'ql:completed') <= count then
    return
  end
  local surplus = call('zrange', 'ql:completed', 0, -1 - count)
  if #surplus > 0 then
    for i = 1, #surplus do
      Job.delete(surplus[i])
    end
    call('zremrangebyrank', 'ql:completed', 0, -1 - count)
  end
end

function JobCommands.complete_and_requeue(now, a)
  local next_queue = a[5]
  local options = Reqless.options(a, 6)
  local delay = 0
  if options.delay ~= nil then
    delay = Reqless.number(options.delay)
    assert(delay)
  end
  local depends = {}
  if options.depends ~= nil then
    depends = Reqless.json_list(options.depends, 'Complete(): Arg "depends" not JSON: ')
  end
  if next_queue == nil then
    if options.delay ~= nil then
      error('Complete(): "delay" cannot be used without a "next".')
    end
    if options.depends ~= nil then
      error('Complete(): "depends" cannot be used without a "next".')
    end
    return JobCommands.complete(now, a)
  end
  local jid, key, queue, retries = JobCommands.finish(now, a)
  call('publish', 'ql:log', encode({ jid = jid, to = next_queue, event = 'advanced', queue = queue }))
  History.append(jid, now, 'put', { queue = next_queue }, false)
  call('zadd', 'ql:queues', 'NX', now, next_queue)
  call('hset', key, 'data', a[4], 'time', Reqless.time_text(now), 'state', 'waiting',
    'worker', '', 'failure', '{}', 'queue', next_queue, 'expires', 0, 'remaining', retries)
  if delay > 0 and #depends == 0 then
    call('zadd', Reqless.queue_key(next_queue, 'scheduled'), now + delay, jid)
    return 'scheduled'
  end
  if Job.depend_on(jid, depends) > 0 then
    call('zadd', Reqless.queue_key(next_queue, 'depends'), now, jid)
    call('hset', key, 'state', 'depends')
    if delay > 0 then
      call('hset', key, 'scheduled', now + delay)
    end
    return 'depends'
  end
  local priority = tonumber(call('hget', key, 'priority')) or 0
  call('zadd', Reqless.queue_key(next_queue, 'work'), Queue.score(priority, now), jid)
  return 'waiting'
end

function JobCommands.fail(now, a)
  local jid, worker, group, message, data = Job.require_jid(a[1]), a[2], a[3], a[4], a[5]
  if worker == nil then
    error('Fail(): Arg "worker" missing')
  end
  if group == nil then
    error('Fail(): Arg "group" missing')
  end
  if message == nil then
    error('Fail(): Arg "message" missing')
  end
  -- Data that decodes to false is ignored, as the reference's `if data` does.
  local decoded
  if data ~= nil then
    decoded = decode(data) or nil
  end
  local key = Reqless.job_key(jid)
  local f = JobCommands.held(key, worker, JobCommands.FAIL, JobCommands.FAIL_FIELDS)
  local queue = f[3]
  call('publish', 'ql:log', encode({
    message = message, jid = jid, group = group, event = 'failed', worker = worker,
  }))
  if Job.is_tracked(jid) then
    call('publish', 'ql:failed', jid)
  end
  call('zrem', 'ql:w:' .. worker .. ':jobs', jid)
  History.append(jid, now, 'failed', { worker = worker, group = group }, f[5])
  Stats.failure(queue, now)
  -- All five sets (3.11 step 5), for the reason JobCommands.finish gives.
  Job.leave_queue_after_running(queue, jid)
  if decoded ~= nil then
    call('hset', key, 'data', encode(decoded))
  end
  call('hset', key, 'state', 'failed', 'worker', '', 'expires', '', 'failure', encode({
    group = group, message = message, when = floor(now), worker = worker,
  }))
  Throttle.release_all(f[4], jid, now)
  Job.file_failure(jid, group, now)
  return jid
end

function JobCommands.retry(now, a)
  local jid, queue, worker = Job.require_jid(a[1]), a[2], a[3]
  if queue == nil then
    error('Retry(): Arg "queue_name" missing')
  end
  if worker == nil then
    error('Retry(): Arg "worker" missing')
  end
  local delay = Reqless.number(a[4], 'Retry(): Arg "delay" not a number: ', 0)
  local group, message = a[5], a[6]
  local key = Reqless.job_key(jid)
  local f = JobCommands.held(key, worker, JobCommands.RETRY, JobCommands.RETRY_FIELDS)
  local remaining = (tonumber(f[5]) or 0) - 1
  call('hset', key, 'remaining', remaining)
  call('hdel', key, 'grace')
  call('zrem', Reqless.queue_key(f[3], 'locks'), jid)
  Throttle.release_all(f[4], jid, now)
  call('zrem', 'ql:w:' .. worker .. ':jobs', jid)
  if remaining < 0 then
    local failed_group = group or ('failed-retries-' .. queue)
    History.append(jid, now, 'failed-retries', { group = failed_group }, f[7])
    local failure
    if message then
      failure = { group = failed_group, message = message, when = floor(now), worker = worker }
    else
      failure = {
        group = failed_group,
        message = 'Job exhausted retries in queue "' .. tostring(f[3]) .. '"',
        when = now,
        worker = '',
      }
    end
    call('hset', key, 'state', 'failed', 'worker', '', 'expires', '', 'failure', encode(failure))
    Stats.failure(queue, now)
    Job.file_failure(jid, failed_group, now)
  else
    -- The `queue` field stays (3.19); `in-queue` names the queue whose sets
    -- now hold the job, so that a put, cancel or priority change finds it
    -- there (EXTENSIONS E.5, DEVIATIONS D-30). A running job has none: its
    -- pop took it home.
    local state = 'waiting'
    if delay > 0 then
      call('zadd', Reqless.queue_key(queue, 'scheduled'), now + delay, jid)
      state = 'scheduled'
    else
      call('zadd', Reqless.queue_key(queue, 'work'), Queue.score(tonumber(f[6]) or 0, now), jid)
    end
    if queue ~= f[3] then
      call('hset', key, 'state', state, 'in-queue', queue)
    else
      call('hset', key, 'state', state)
    end
    if group and message then
      call('hset', key, 'failure', encode({
        group = group, message = message, when = floor(now), worker = worker,
      }))
    end
  end
  return floor(remaining)
end

function JobCommands.heartbeat(now, a)
  local jid, worker, data = Job.require_jid(a[1]), a[2], a[3]
  if worker == nil then
    error('Heatbeat(): Arg "worker" missing')
  end
  -- Data that decodes to false is ignored, as the reference's `if data` does.
  local decoded
  if data ~= nil then
    decoded = decode(data) or nil
  end
  local key = Reqless.job_key(jid)
  local f = JobCommands.held(key, worker, JobCommands.HEARTBEAT, JobCommands.HEARTBEAT_FIELDS, true)
  local queue = f[3]
  local expires = now + Config.queue_numbers(queue, 'heartbeat')
  if decoded ~= nil then
    call('hset', key, 'expires', expires, 'worker', worker, 'data', encode(decoded))
  else
    call('hset', key, 'expires', expires, 'worker', worker)
  end
  call('zadd', 'ql:w:' .. worker .. ':jobs', expires, jid)
  call('zadd', Reqless.queue_key(queue, 'locks'), expires, jid)
  return expires
end

function JobCommands.timeout(now, a)
  for i = 1, #a do
    local jid = a[i]
    local key = Reqless.job_key(jid)
    local f = call('hmget', key, 'state', 'queue', 'worker', 'throttles', 'history')
    if f[1] ~= 'running' then
      error('Timeout(): Job ' .. jid .. ' not running')
    end
    local queue, worker = f[2], f[3]
    History.append(jid, now, 'timed-out', nil, f[5])
    call('zrem', Reqless.queue_key(queue, 'locks'), jid)
    Throttle.release_all(f[4], jid, now)
    call('zadd', Reqless.queue_key(queue, 'work'), '+inf', jid)
    call('hset', key, 'state', 'stalled', 'expires', 0, 'worker', '')
    local event = encode({ jid = jid, event = 'lock_lost', worker = worker })
    call('publish', 'ql:w:' .. worker, event)
    call('publish', 'ql:log', event)
  end
end

function JobCommands.set_priority(now, a)
  local jid = Job.require_jid(a[1])
  local priority = Reqless.number(a[2], 'Priority(): Arg "priority" missing or not a number: ')
  local key = Reqless.job_key(jid)
  local fields = call('hmget', key, 'queue', 'in-queue')
  local queue = fields[1]
  if queue == false then
    error('Queue(): no queue name provided')
  end
  -- Where the job waits after a retry into another queue (D-30).
  if fields[2] then
    queue = fields[2]
  end
  if queue ~= '' then
    local work = Reqless.queue_key(queue, 'work')
    if call('zscore', work, jid) then
      call('zadd', work, priority, jid)
    end
  end
  call('hset', key, 'priority', priority)
  return priority
end

function JobCommands.cancel(now, a)
  local listed = {}
  for i = 1, #a do
    listed[a[i]] = true
  end
  -- Refuse before touching anything: a dependency may only go with its dependents.
  for i = 1, #a do
    local dependents = call('smembers', Reqless.job_key(a[i]) .. '-dependents')
    for j = 1, #dependents do
      if not listed[dependents[j]] then
        error('Cancel(): ' .. a[i] .. ' is a dependency of ' .. dependents[j] ..
          ' but is not mentioned to be canceled')
      end
    end
  end
  for i = 1, #a do
    JobCommands.cancel_one(a[i], now)
  end
  return a
end

function JobCommands.cancel_one(jid, now)
  local key = Reqless.job_key(jid)
  local f = call('hmget', key, 'state', 'queue', 'worker', 'throttles', 'failure', 'tags',
    'in-queue')
  local state, queue, worker = f[1], f[2], f[3]
  if state == 'complete' then
    return
  end
  local event = encode({ jid = jid, queue = queue, event = 'canceled', worker = worker })
  call('publish', 'ql:log', event)
  if worker and worker ~= '' then
    call('zrem', 'ql:w:' .. worker .. ':jobs', jid)
    call('publish', 'ql:w:' .. worker, event)
  end
  Job.leave_queues(jid, queue, f[7])
  Throttle.release_all(f[4], jid, now)
  Job.unlink_dependencies(jid)
  if state == 'failed' then
    Job.unfile_failed(jid, queue, f[5], now)
  end
  Job.delete(jid, f[6])
  if Job.is_tracked(jid) then
    call('publish', 'ql:canceled', jid)
  end
end

-- The job's key and decoded tag list, for the two tag commands.
function JobCommands.tags_of(jid)
  if jid == nil then
    error('Tag(): Arg "jid" missing')
  end
  local key = Reqless.job_key(jid)
  local stored = call('hget', key, 'tags')
  if not stored then
    error('Tag(): Job ' .. jid .. ' does not exist')
  end
  return key, decode(stored)
end

function JobCommands.add_tag(now, a)
  local jid = a[1]
  local key, tags = JobCommands.tags_of(jid)
  for i = 2, #a do
    local tag = a[i]
    if not Reqless.contains(tags, tag) then
      tags[#tags + 1] = tag
    end
    Job.index_tag(jid, tag, now)
  end
  call('hset', key, 'tags', Reqless.tags_text(tags, '{}'))
  return Reqless.tags_text(tags, '[]')
end

function JobCommands.remove_tag(now, a)
  local jid = a[1]
  local key, tags = JobCommands.tags_of(jid)
  local removing = {}
  for i = 2, #a do
    removing[a[i]] = true
    Job.unindex_tag(jid, a[i])
  end
  local kept = {}
  for _, tag in ipairs(tags) do
    if type(tag) ~= 'string' or not removing[tag] then
      kept[#kept + 1] = tag
    end
  end
  call('hset', key, 'tags', Reqless.tags_text(kept, '{}'))
  return Reqless.tags_text(kept, '[]')
end

function JobCommands.track(now, a)
  local jid = a[1]
  if jid == nil then
    error('Track(): Arg "jid" missing')
  end
  if call('exists', Reqless.job_key(jid)) == 0 then
    error('Track(): Job does not exist')
  end
  call('publish', 'ql:track', jid)
  return encode(call('zadd', 'ql:tracked', now, jid))
end

function JobCommands.untrack(now, a)
  local jid = a[1]
  if jid == nil then
    error('Track(): Arg "jid" missing')
  end
  if call('exists', Reqless.job_key(jid)) == 0 then
    error('Track(): Job does not exist')
  end
  call('publish', 'ql:untrack', jid)
  return encode(call('zrem', 'ql:tracked', jid))
end

function JobCommands.require_depends_state(jid)
  local state = call('hget', Reqless.job_key(jid), 'state')
  if state ~= 'depends' then
    error('Depends(): Job ' .. jid .. ' not in the depends state: ' .. tostring(state))
  end
end

function JobCommands.add_dependency(now, a)
  local jid = Job.require_jid(a[1])
  JobCommands.require_depends_state(jid)
  local deps = {}
  for i = 2, #a do
    deps[#deps + 1] = a[i]
  end
  Job.depend_on(jid, deps)
  return 1
end

function JobCommands.remove_dependency(now, a)
  local jid = Job.require_jid(a[1])
  JobCommands.require_depends_state(jid)
  if a[2] == 'all' then
    local deps = call('smembers', Reqless.job_key(jid) .. '-dependencies')
    for i = 1, #deps do
      Job.remove_edge(jid, deps[i])
    end
    Job.release_from_depends(jid, now, false)
  elseif #a > 1 then
    for i = 2, #a do
      Job.remove_edge(jid, a[i])
    end
    if call('scard', Reqless.job_key(jid) .. '-dependencies') == 0 then
      Job.release_from_depends(jid, now, false)
    end
  end
  return 1
end

function JobCommands.log(now, a)
  local jid, message, data = a[1], a[2], a[3]
  if jid == nil then
    error("Log(): Argument 'jid' missing")
  end
  if message == nil then
    error("Log(): Argument 'message' missing")
  end
  local details
  if data ~= nil then
    details = Reqless.json(data, "Log(): Argument 'data' not cjson: ")
    -- Details become keys of a history object; anything but an object
    -- would make the job's history unreadable.
    if type(details) ~= 'table' then
      error("Log(): Argument 'data' not cjson: " .. data)
    end
  end
  if call('exists', Reqless.job_key(jid)) == 0 then
    error('Log(): Job ' .. jid .. ' does not exist')
  end
  History.append(jid, now, message, details)
end

function JobCommands.get(now, a)
  return Job.object(Job.require_jid(a[1])) or nil
end

function JobCommands.get_multi(now, a)
  return Reqless.json_array(Job.objects(a), '[]')
end
