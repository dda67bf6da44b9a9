-- The command table (protocol 1.6) and the dispatcher both forms call:
-- EVAL/EVALSHA <script> 0 <command> <now> args...  or  FCALL reqless 0 <command> <now> args...

Reqless.commands = {
  ['config.get'] = Config.cmd_get,
  ['config.getAll'] = Config.cmd_get_all,
  ['config.set'] = Config.cmd_set,
  ['config.unset'] = Config.cmd_unset,

  ['failureGroups.counts'] = Listings.failure_groups,

  ['job.addDependency'] = JobCommands.add_dependency,
  ['job.addTag'] = JobCommands.add_tag,
  ['job.cancel'] = JobCommands.cancel,
  ['job.complete'] = JobCommands.complete,
  ['job.completeAndRequeue'] = JobCommands.complete_and_requeue,
  ['job.fail'] = JobCommands.fail,
  ['job.get'] = JobCommands.get,
  ['job.getMulti'] = JobCommands.get_multi,
  ['job.heartbeat'] = JobCommands.heartbeat,
  ['job.log'] = JobCommands.log,
  ['job.removeDependency'] = JobCommands.remove_dependency,
  ['job.removeTag'] = JobCommands.remove_tag,
  ['job.requeue'] = QueueCommands.requeue,
  ['job.retry'] = JobCommands.retry,
  ['job.setPriority'] = JobCommands.set_priority,
  ['job.timeout'] = JobCommands.timeout,
  ['job.track'] = JobCommands.track,
  ['job.untrack'] = JobCommands.untrack,

  ['jobs.completed'] = Listings.completed,
  ['jobs.failedByGroup'] = Listings.failed_by_group,
  ['jobs.tagged'] = Listings.tagged,
  ['jobs.tracked'] = Listings.tracked,

  ['queue.counts'] = QueueCommands.counts,
  ['queue.forget'] = QueueCommands.forget,
  ['queue.jobsByState'] = QueueCommands.jobs_by_state,
  ['queue.length'] = QueueCommands.length,
  ['queue.pause'] = QueueCommands.pause,
  ['queue.peek'] = QueueCommands.peek,
  ['queue.pop'] = QueueCommands.pop,
  ['queue.put'] = QueueCommands.put,
  ['queue.recurAtInterval'] = Recurring.recur,
  ['queue.stats'] = Stats.cmd_stats,
  ['queue.throttle.get'] = Throttle.cmd_queue_get,
  ['queue.throttle.set'] = Throttle.cmd_queue_set,
  ['queue.unfail'] = QueueCommands.unfail,
  ['queue.unpause'] = QueueCommands.unpause,

  ['queueIdentifierPatterns.getAll'] = Patterns.identifiers,
  ['queueIdentifierPatterns.setAll'] = Patterns.set_identifiers,
  ['queuePriorityPatterns.getAll'] = Patterns.priorities,
  ['queuePriorityPatterns.setAll'] = Patterns.set_priorities,

  ['queues.counts'] = QueueCommands.all_counts,
  ['queues.names'] = QueueCommands.names,

  ['recurringJob.addTag'] = Recurring.add_tag,
  ['recurringJob.cancel'] = Recurring.cancel,
  ['recurringJob.get'] = Recurring.get,
  ['recurringJob.removeTag'] = Recurring.remove_tag,
  ['recurringJob.update'] = Recurring.update,

  ['tags.top'] = Listings.top_tags,

  ['throttle.delete'] = Throttle.cmd_delete,
  ['throttle.get'] = Throttle.cmd_get,
  ['throttle.locks'] = Throttle.cmd_locks,
  ['throttle.pending'] = Throttle.cmd_pending,
  ['throttle.release'] = Throttle.cmd_release,
  ['throttle.set'] = Throttle.cmd_set,

  ['worker.forget'] = Workers.cmd_forget,
  ['worker.jobs'] = Workers.cmd_jobs,
  ['workers.counts'] = Workers.cmd_counts,
}

-- Checks run in the protocol's order (1.1) before any key is read; the
-- handler gets the numeric `now` and its own arguments numbered from 1.
function Reqless.dispatch(keys, args)
  call, encode, decode = redis.call, cjson.encode, cjson.decode
  Config.cache = false
  Throttle.maximums = false
  Job.nothing_tracked = false
  if #keys > 0 then
    error('No Keys should be provided')
  end
  local command = args[1]
  if command == nil then
    error('Must provide a command')
  end
  local handler = Reqless.commands[command]
  if handler == nil then
    error('Unknown command ' .. command)
  end
  if args[2] == nil then
    -- The reference fails inside tonumber() here; clients match its text.
    tonumber()
  end
  local now = Reqless.number(args[2])
  if now == nil then
    error('Arg "now" missing or not a number: nil')
  end
  local own
  if #args < 200 then
    own = { unpack(args, 3) }
  else
    -- unpack() would overflow Lua's C stack on a very long argument list.
    own = {}
    for i = 3, #args do
      own[i - 2] = args[i]
    end
  end
  return handler(now, own)
end
