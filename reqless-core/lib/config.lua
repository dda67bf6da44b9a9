-- Configuration options (protocol 3.1-3.4, 4.19): stored as strings in
-- ql:config, read with the documented defaults.

Config.defaults = {
  ['application'] = 'reqless',
  ['grace-period'] = '10',
  ['heartbeat'] = '60',
  ['jobs-history'] = '604800',
  ['jobs-history-count'] = '50000',
  ['max-job-history'] = '100',
  ['max-pop-retry'] = '1',
  ['max-worker-age'] = '86400',
}

-- Options read during one command, so that several readers of the same
-- option cost one round trip; Reqless.dispatch drops it before each call
-- (false), and the first reader makes it.
Config.cache = false

-- Read three options in one HMGET as the per-call cache, before anything
-- else reads one: built in one constructor, as growing it key by key costs
-- more than the read.
function Config.prefetch(first, second, third)
  local values = call('hmget', 'ql:config', first, second, third)
  local defaults = Config.defaults
  Config.cache = {
    [first] = values[1] or defaults[first] or false,
    [second] = values[2] or defaults[second] or false,
    [third] = values[3] or defaults[third] or false,
  }
end

-- An option's value, its default, or false.
function Config.get(key)
  local cache = Reqless.per_call(Config, 'cache')
  local value = cache[key]
  if value == nil then
    value = call('hget', 'ql:config', key) or Config.defaults[key] or false
    cache[key] = value
  end
  return value
end

function Config.number(key)
  return tonumber(Config.get(key))
end

-- Per-queue options (`<queue>-<key>`), each falling back to the global one,
-- as numbers: one option, or two read in one HMGET. Read straight, not
-- through the per-call cache: no other reader in the command wants them,
-- and filling the cache costs more than the read.
function Config.queue_numbers(queue, key, other)
  local defaults = Config.defaults
  if other == nil then
    local values = call('hmget', 'ql:config', queue .. '-' .. key, key)
    return tonumber(values[1] or values[2] or defaults[key])
  end
  local values = call('hmget', 'ql:config', queue .. '-' .. key, key, queue .. '-' .. other, other)
  return tonumber(values[1] or values[2] or defaults[key]),
    tonumber(values[3] or values[4] or defaults[other])
end

function Config.cmd_get(now, a)
  local key = a[1]
  if key == nil then
    error("config.get(): Argument 'key' missing")
  end
  return Config.get(key)
end

function Config.cmd_get_all(now, a)
  local all = {}
  for key, value in pairs(Config.defaults) do
    all[key] = value
  end
  local stored = call('hgetall', 'ql:config')
  for i = 1, #stored, 2 do
    all[stored[i]] = stored[i + 1]
  end
  return encode(all)
end

function Config.cmd_set(now, a)
  local option, value = a[1], a[2]
  if option == nil then
    error('config.set(): Arg "option" missing')
  end
  if value == nil then
    error('config.set(): Arg "value" missing')
  end
  call('publish', 'ql:log', encode({ option = option, event = 'config_set', value = value }))
  call('hset', 'ql:config', option, value)
end

function Config.cmd_unset(now, a)
  local option = a[1]
  if option == nil then
    error('config.unset(): Arg "option" missing')
  end
  call('publish', 'ql:log', encode({ event = 'config_unset', option = option }))
  call('hdel', 'ql:config', option)
end
