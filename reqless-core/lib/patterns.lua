-- Queue identifier and priority patterns (protocol 3.42-3.45), with the
-- legacy qmore:* keys read as a fallback and removed on every write.

Patterns.DEFAULT_PRIORITY = '{"fairly": false, "pattern": ["default"]}'

function Patterns.identifiers(now, a)
  local all = { default = '["*"]' }
  local stored = call('hgetall', 'ql:qp:identifiers')
  if #stored == 0 then
    stored = call('hgetall', 'qmore:dynamic')
  end
  for i = 1, #stored, 2 do
    all[stored[i]] = stored[i + 1]
  end
  return encode(all)
end

function Patterns.set_identifiers(now, a)
  if #a % 2 == 1 then
    error('Odd number of identifier patterns: ' .. tostring(a))
  end
  -- Validate everything before the old patterns are deleted.
  local kept = {}
  local has_default = false
  for i = 1, #a, 2 do
    local patterns = decode(a[i + 1])
    if type(patterns) ~= 'table' then
      error('Identifier patterns must be a JSON array: ' .. a[i + 1])
    end
    if #patterns > 0 then
      kept[#kept + 1] = a[i]
      kept[#kept + 1] = a[i + 1]
      if a[i] == 'default' then
        has_default = true
      end
    end
  end
  if not has_default then
    kept[#kept + 1] = 'default'
    kept[#kept + 1] = '["*"]'
  end
  call('del', 'ql:qp:identifiers', 'qmore:dynamic')
  call('hset', 'ql:qp:identifiers', unpack(kept))
end

function Patterns.priorities(now, a)
  local stored = call('lrange', 'ql:qp:priorities', 0, -1)
  if #stored == 0 then
    stored = call('lrange', 'qmore:priority', 0, -1)
  end
  if #stored == 0 then
    stored = { Patterns.DEFAULT_PRIORITY }
  end
  return Reqless.list(stored)
end

function Patterns.set_priorities(now, a)
  local values = {}
  local found_default = false
  -- Decoding stops at the default pattern, as the reference's does; what
  -- comes before it is validated before the old patterns are deleted.
  -- Only a missing `pattern` member is an error (3.45): a string one is
  -- stored as given. Other kinds make the reference fail on taking their
  -- length, so they are refused here too, before anything is deleted.
  for i = 1, #a do
    local decoded = decode(a[i])
    local pattern = type(decoded) == 'table' and decoded.pattern
    local kind = type(pattern)
    if kind ~= 'table' and kind ~= 'string' then
      error('Priority pattern has no "pattern" array: ' .. a[i])
    end
    if kind == 'table' and #pattern == 1 and pattern[1] == 'default' then
      found_default = true
      break
    end
  end
  for i = 1, #a do
    values[i] = a[i]
  end
  call('del', 'ql:qp:priorities', 'qmore:priority')
  if #values == 0 then
    return
  end
  if not found_default then
    values[#values + 1] = Patterns.DEFAULT_PRIORITY
  end
  Reqless.call_many('rpush', 'ql:qp:priorities', values)
end
