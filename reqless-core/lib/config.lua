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

function Config.get(key)
  local value = call('hget', 'ql:config', key)
  if value then
    return value
  end
  return Config.defaults[key]
end

function Config.number(key)
  return tonumber(Config.get(key))
end

-- A per-queue option (`<queue>-<key>`) falling back to the global one.
function Config.queue_number(queue, key)
  local values = call('hmget', 'ql:config', queue .. '-' .. key, key)
  return tonumber(values[1] or values[2] or Config.defaults[key])
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
