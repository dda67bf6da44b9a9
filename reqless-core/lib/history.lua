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

-- floor(now) as text, as Lua's number-to-text conversion (%.14g) writes it:
-- for a positive whole number below 1e14 that is the plain integer, which %d
-- writes for half the cost (%d would drop the sign of -0).
-- Most calls fall in the second the last one did: the Function library
-- remembers it.
History.last_when = false
History.last_when_text = false

function History.when_text(now)
  local when = floor(now)
  if when > 0 and when < 1e14 then
    if when ~= History.last_when then
      History.last_when, History.last_when_text = when, format('%d', when)
    end
    return History.last_when_text
  end
  return tostring(when)
end

-- The JSON text of the entry names the core writes (cjson's for each).
History.QUOTED = {
  put = '"put"', popped = '"popped"', done = '"done"', failed = '"failed"',
  ['failed-retries'] = '"failed-retries"', ['timed-out'] = '"timed-out"',
  throttled = '"throttled"',
}

-- Append one entry. `details` is a table or its JSON text (nil for none).
-- `legacy` is the job's `history` field when the caller already read it
-- (false when absent); nil makes this function look itself. Returns the
-- entry's `when` as text.
function History.append(jid, now, what, details, legacy)
  if legacy == nil then
    legacy = call('hget', Reqless.job_key(jid), 'history')
  end
  if legacy then
    History.migrate(jid, legacy)
  end
  -- Written by hand: the same text cjson makes for {when, what, details}.
  local entry
  local when = History.when_text(now)
  if details == nil then
    entry = '[' .. when .. ',' .. (History.QUOTED[what] or encode(what)) .. ']'
  else
    if type(details) == 'table' then
      details = encode(details)
    end
    entry = '[' .. when .. ',' .. (History.QUOTED[what] or encode(what)) .. ',' .. details .. ']'
  end
  local key = History.key(jid)
  -- The reference pops the first entry, trims the rest to its newest m - 2,
  -- pushes the first back and appends. Appending first and trimming after
  -- gives the same list, and a list of two entries or fewer is never trimmed
  -- whatever m is, so most appends need neither the option nor a second command.
  local length = call('rpush', key, entry)
  if length <= 2 then
    return when
  end
  -- Whole entries only: a fractional setting counts as its floor (the
  -- reference fails every append on one; DEVIATIONS D-18).
  local limit = floor(Config.number('max-job-history') or 100)
  if limit >= 3 then
    if length > limit then
      local first = call('lindex', key, 0)
      call('ltrim', key, 1 - limit, -1)
      call('lpush', key, first)
    end
  elseif limit == 1 then
    -- m = 1 drops the entry after the first on every append.
    call('lset', key, 1, History.DROPPED)
    call('lrem', key, 1, History.DROPPED)
  end
  return when
end

-- A placeholder no entry can equal (entries are JSON arrays), for removing
-- one entry by position.
History.DROPPED = 'reqless:dropped-history-entry'

-- The returned form: each entry as a JSON object of its details plus
-- "when" and "what", as a list of JSON texts. `newest`, when given, is the
-- rendered form of the entry the caller just appended (an append leaves its
-- entry last, whatever it trims), so that entry is neither read nor parsed.
function History.render(jid, newest)
  local entries = call('lrange', History.key(jid), 0, newest and -2 or -1)
  local out = {}
  local memo = History.rendered
  for i = 1, #entries do
    local entry = entries[i]
    local rendered = memo[entry]
    if rendered == nil then
      rendered = History.render_entry(entry)
      if #entry <= 128 then
        if History.rendered_size >= 1000 then
          memo = {}
          History.rendered, History.rendered_size = memo, 0
        end
        memo[entry] = rendered
        History.rendered_size = History.rendered_size + 1
      end
    end
    out[i] = rendered
  end
  out[#out + 1] = newest
  return out
end

-- Rendered entries by their stored text. Jobs put to one queue in the same
-- second share their first entry's text, so the Function library keeps the
-- renderings of short entries across calls, and starts over past a bound.
History.rendered = {}
History.rendered_size = 0

-- One stored entry [when, what(, {details})] as the object clients get.
-- Entries we wrote are rearranged as text; anything unusual (escaped
-- characters in `what`, details that are not an object) is decoded instead.
function History.render_entry(entry)
  local when, what, rest = match(entry, '^%[([^,"]+),("[^"\\]*")(.*)%]$')
  if when then
    if rest == '' or rest == ',{}' then
      return '{"when":' .. when .. ',"what":' .. what .. '}'
    end
    local inner = match(rest, '^,{(.*)}$')
    -- Details with their own "when"/"what" keys are overridden, not repeated.
    if inner and not find(inner, '"wh', 1, true) then
      return '{' .. inner .. ',"when":' .. when .. ',"what":' .. what .. '}'
    end
  end
  local decoded = decode(entry)
  local item = {}
  if type(decoded[3]) == 'table' then
    for key, value in pairs(decoded[3]) do
      item[key] = value
    end
  end
  item.when = decoded[1]
  item.what = decoded[2]
  return encode(item)
end
