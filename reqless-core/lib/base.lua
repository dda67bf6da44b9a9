-- Shared helpers: the Reqless table every module hangs off, argument checks,
-- JSON helpers and the key names of the schema (protocol section 2.2).
--
-- Everything is a field of a module table rather than a top-level local:
-- Lua 5.1 allows 200 locals per chunk and 60 upvalues per function, and the
-- Function form keeps these tables alive between calls, so nothing here may
-- hold per-call state.

-- Declared least used first. The EVAL form makes every function anew on
-- each call, and Lua finds each upvalue a new function captures by walking
-- the captured locals from the last declared: the locals nearly every
-- function uses (call, Reqless) come last, so those walks stay short.
local frexp = math.frexp
local ldexp = math.ldexp
local huge = math.huge
local concat = table.concat
local match = string.match
local find = string.find
local format = string.format
local Workers = {}
local Patterns = {}
local floor = math.floor
local Listings = {}
local unpack = unpack
local type = type
local Recurring = {}
local Stats = {}
local QueueCommands = {}
local Config = {}
local tostring = tostring
local History = {}
local JobCommands = {}
local tonumber = tonumber
local Queue = {}
local Throttle = {}
local Job = {}
-- decode, encode and call are bound by Reqless.dispatch: a Function library
-- may not touch cjson or redis.call while it is being loaded.
local decode
local encode
local Reqless = {}
local call

-- Lua's tonumber, minus NaN and the infinities: those would later make the
-- JSON encoder fail or poison a sorted-set score, so they are rejected up front.
-- For a command's argument, `message` makes a bad value an error that names
-- it, and an absent value is `default` when there is one (else it is bad).
-- One function for all three: the EVAL form makes every function anew on
-- each call, and a put or a pop checks its numbers with no call more.
function Reqless.number(value, message, default)
  if value == nil and default ~= nil then
    return default
  end
  local n = tonumber(value)
  if n == nil or n ~= n or n == huge or n == -huge then
    if message then
      error(message .. tostring(value))
    end
    return nil
  end
  return n
end

-- Decode a JSON argument; the decoder raises on malformed text, and a text
-- that decodes to false gets the command's own message.
function Reqless.json(value, message)
  if value == nil then
    error(message .. 'nil')
  end
  local decoded = decode(value)
  if not decoded then
    error(message .. tostring(value))
  end
  return decoded
end

-- Reqless.json for an argument that is only checked, not used: "{}", the
-- data of many jobs, needs no decoder to be known good.
function Reqless.check_json(value, message)
  if value ~= '{}' then
    Reqless.json(value, message)
  end
end

-- Top-level JSON lists go out as "[]" when empty (cjson would send "{}").
function Reqless.list(items)
  if #items == 0 then
    return '[]'
  end
  return encode(items)
end

-- A JSON array of already-encoded items; `empty` is what no items give
-- ("[]" at the top level of a reply, "{}" inside an object, as cjson does).
function Reqless.json_array(texts, empty)
  if #texts == 0 then
    return empty
  end
  return '[' .. concat(texts, ',') .. ']'
end

-- A list of strings as a JSON array ("{}" when empty, as inside objects).
function Reqless.string_array(items)
  local count = #items
  if count == 0 then
    return '{}'
  elseif count == 1 then
    return '[' .. encode(items[1]) .. ']'
  end
  local quoted = {}
  for i = 1, #items do
    quoted[i] = encode(items[i])
  end
  return '[' .. concat(quoted, ',') .. ']'
end

-- Trailing "name value" option pairs as a table; later pairs win. An odd
-- count is an error only for commands that give an `odd_message`.
function Reqless.options(args, first, odd_message)
  local count = #args - first + 1
  if odd_message and count > 0 and count % 2 == 1 then
    error(odd_message .. tostring(args))
  end
  local options = {}
  for i = first, #args, 2 do
    options[args[i]] = args[i + 1]
  end
  return options
end

-- The members of a decoded JSON array (or an empty object) as a Lua list.
function Reqless.array(value)
  if type(value) ~= 'table' then
    return nil
  end
  for key in pairs(value) do
    if type(key) ~= 'number' then
      return nil
    end
  end
  return value
end

-- A JSON array argument as a Lua list, or an error naming the bad value:
-- the decoder's for malformed text, `message` for any other JSON value.
function Reqless.json_list(value, message)
  local list = Reqless.array(Reqless.json(value, message))
  if list == nil then
    error(message .. value)
  end
  return list
end

-- A cache that lives for one command, `owner[field]`: Reqless.dispatch sets
-- it to false before each call, and the first reader makes it here.
function Reqless.per_call(owner, field)
  local cache = owner[field]
  if not cache then
    cache = {}
    owner[field] = cache
  end
  return cache
end

function Reqless.contains(items, wanted)
  for i = 1, #items do
    if items[i] == wanted then
      return true
    end
  end
  return false
end

-- The text a tag is indexed under: strings as they are, numbers in decimal.
function Reqless.tag_name(tag)
  if type(tag) == 'number' then
    if tag == floor(tag) and tag > -1e15 and tag < 1e15 then
      return format('%d', tag)
    end
    return tostring(tag)
  end
  return tag
end

-- A tag list as JSON text (`empty` when it has no tags). cjson writes
-- numbers with 14 significant digits, so a 15-digit integer tag would come
-- back from the job's `tags` field as another number than the one its index
-- key names: numbers are written as Reqless.tag_name writes them.
function Reqless.tags_text(tags, empty)
  local count = #tags
  if count == 0 then
    return empty
  end
  local parts
  for i = 1, count do
    if type(tags[i]) == 'number' then
      parts = {}
      break
    end
  end
  if parts == nil then
    return encode(tags)
  end
  for i = 1, count do
    local tag = tags[i]
    if type(tag) == 'number' then
      parts[i] = Reqless.tag_name(tag)
    else
      parts[i] = encode(tag)
    end
  end
  return '[' .. concat(parts, ',') .. ']'
end

-- Start of the UTC day containing t (floored modulo), as key text. Most
-- calls fall on the day the last one did: the Function library remembers it.
Reqless.last_day = false
Reqless.last_day_text = false

function Reqless.day(t)
  local start = t - (t % 86400)
  if start ~= Reqless.last_day then
    Reqless.last_day = start
    Reqless.last_day_text = format('%d', start)
  end
  return Reqless.last_day_text
end

-- A stored number field as JSON text (absent or not a number: 0). Lua's
-- number-to-text conversion is among the costliest steps of rendering a job,
-- and these fields (priority, retries, remaining) take few distinct values,
-- so short texts are remembered; the Function library keeps the memo across
-- calls, and starts it over past a bound. `whole` floors first.
Reqless.number_texts = { [false] = {}, [true] = {} }
Reqless.number_texts_size = 0

function Reqless.number_text(text, whole)
  local memo = Reqless.number_texts[whole]
  local out = memo[text]
  if out == nil then
    local n = tonumber(text) or 0
    if whole then
      n = floor(n)
    end
    out = tostring(n)
    if text and #text <= 8 then
      if Reqless.number_texts_size >= 1000 then
        Reqless.number_texts = { [false] = {}, [true] = {} }
        Reqless.number_texts_size = 0
        memo = Reqless.number_texts[whole]
      end
      memo[text] = out
      Reqless.number_texts_size = Reqless.number_texts_size + 1
    end
  end
  return out
end

-- The job hash's `time` field is written with %.20f, as the reference does:
-- t's exact binary value rounded (half to even) to 20 decimals, which the C
-- library works out in multi-precision arithmetic, at a cost above most
-- Redis calls. Whole numbers, and the times of this era (2^26 <= t < 2^33,
-- so 20 to 26 fraction bits), are written here with the same digits in
-- plain arithmetic; see docs/performance.md, "The hot path after issue 16".
function Reqless.time_text(t)
  local whole = floor(t)
  local fraction = t - whole
  if fraction == 0 and t > 0 and t < 9007199254740992 then
    return format('%d', whole) .. '.00000000000000000000'
  elseif t < 67108864 or t >= 8589934592 then
    return format('%.20f', t)
  end
  -- fraction = m / 2^bits exactly; its 20 decimals are m * 5^20 / 2^(bits - 20),
  -- up to 2^26 * 5^20: too wide for a double, so held as high * 10^7 + low.
  local _, exponent = frexp(t)
  local bits = 53 - exponent
  local m = ldexp(fraction, bits)
  local high = m * 9536743
  local low = m * 1640625
  local carry = floor(low / 1e7)
  high, low = high + carry, low - carry * 1e7
  local divisor = ldexp(1, bits - 20)
  local top = floor(high / divisor)
  low = (high - top * divisor) * 1e7 + low
  local bottom = floor(low / divisor)
  local twice_rest = 2 * (low - bottom * divisor)
  if twice_rest > divisor or (twice_rest == divisor and bottom % 2 == 1) then
    bottom = bottom + 1
    -- (A fraction of at most 26 bits stays below 1 - 10^-8: never 1.0.)
    if bottom == 1e7 then
      bottom, top = 0, top + 1
    end
  end
  return format('%d.%013d%07d', whole, top, bottom)
end

-- Call a variadic Redis command in slices, so a long argument list cannot
-- overflow Lua's C stack in unpack().
function Reqless.call_many(command, key, items)
  local size = #items
  if size == 0 then
    return call(command, key)
  end
  for i = 1, size, 1000 do
    local last = i + 999
    if last > size then
      last = size
    end
    call(command, key, unpack(items, i, last))
  end
end

function Reqless.job_key(jid)
  return 'ql:j:' .. jid
end

function Reqless.queue_key(queue, kind)
  return 'ql:q:' .. queue .. '-' .. kind
end
