-- Job history (protocol 2.5, 4.11): a list of JSON arrays
-- [when, what(, details)] per job, trimmed on every append while always
-- keeping the first entry, and the migration of the legacy `history` field.

function History.key(jid)
  return 'ql:j:' .. jid .. '-history'
end

-- Move a legacy `history` hash field (an array of {put, popped, failed,
-- done, queue, worker} objects) into the list, then drop the field.
function History.migrate(jid, legacy)
  local key = History.key(jid)
  local entries = {}
  for _, old in ipairs(decode(legacy)) do
    if old.put then
      entries[#entries + 1] = encode({ floor(old.put), 'put', { queue = old.queue } })
    end
    if old.popped then
      entries[#entries + 1] = encode({ floor(old.popped), 'popped', { worker = old.worker } })
    end
    if old.failed then
      entries[#entries + 1] = encode({ floor(old.failed), 'failed' })
    end
    if old.done then
      entries[#entries + 1] = encode({ floor(old.done), 'done' })
    end
  end
  if #entries > 0 then
    Reqless.call_many('rpush', key, entries)
  end
  call('hdel', Reqless.job_key(jid), 'history')
end

-- Append one entry. `legacy` is the job's `history` field when the caller
-- already read it (false when absent); nil makes this function look itself.
function History.append(jid, now, what, details, legacy)
  if legacy == nil then
    legacy = call('hget', Reqless.job_key(jid), 'history')
  end
  if legacy then
    History.migrate(jid, legacy)
  end
  local entry
  if details then
    entry = encode({ floor(now), what, details })
  else
    entry = encode({ floor(now), what })
  end
  local key = History.key(jid)
  local limit = Config.number('max-job-history') or 100
  if limit >= 3 then
    -- Same result as the reference's pop-first / trim-rest / push-back /
    -- append, in one command while the list is short enough.
    local length = call('rpush', key, entry)
    if length > limit then
      local first = call('lindex', key, 0)
      call('ltrim', key, 1 - limit, -1)
      call('lpush', key, first)
    end
  elseif limit > 0 then
    local first = call('lpop', key)
    call('ltrim', key, 2 - limit, -1)
    if first then
      call('lpush', key, first)
    end
    call('rpush', key, entry)
  else
    call('rpush', key, entry)
  end
end

-- The returned form: each entry as an object of its details plus when/what.
function History.read(jid)
  local entries = call('lrange', History.key(jid), 0, -1)
  local out = {}
  for i = 1, #entries do
    local entry = decode(entries[i])
    local item = {}
    if type(entry[3]) == 'table' then
      for key, value in pairs(entry[3]) do
        item[key] = value
      end
    end
    item.when = entry[1]
    item.what = entry[2]
    out[i] = item
  end
  return out
end
