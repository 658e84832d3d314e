-- One request slot of a budget shared through Redis, decided atomically on Redis time.
--
-- Every process calls this once per request slot. It reports the throttles the
-- process saw since its last call (halving those operations' rates: AIMD), reserves
-- the next slot of one operation (GCRA: a theoretical arrival time per operation,
-- pushed one interval further by each reservation), and records the process as live.
-- Redis 6.2 compatible: a plain script (EVALSHA), no functions; TIME before writes
-- is allowed since Redis 5 (scripts replicate their effects).
--
-- KEYS[1]   the replicas: a sorted set of replica id -> last call (server microseconds)
-- KEYS[2]   the lane of the operation asking for a slot: a hash
--             tat  the next free slot (server microseconds)
--             rate the rate the last cut left (requests per second)
--             cut  when it was cut (server microseconds)
--             by   the replica that reported the throttle
-- KEYS[3..] the lanes of operations this replica saw throttled since its last call
--
-- ARGV[1]  replica id
-- ARGV[2]  horizon: the latest acceptable slot, in microseconds from now (-1: any)
-- ARGV[3]  max_rate, ARGV[4] min_rate, ARGV[5] recovery (requests per second, per second)
-- ARGV[6]  cooldown: throttles this soon after a cut do not cut again (microseconds)
-- ARGV[7]  replica timeout: a replica silent this long is no longer counted (microseconds)
-- ARGV[8]  idle ttl: keys expire this long after their last use (milliseconds)
-- ARGV[9]  '' to read the server's TIME; tests pin the time with a number of microseconds
--
-- Reply: {granted (1/0), wait (microseconds until the slot), rate (now), cut (microseconds
--         or ''), cut by, live replicas, server time, then one entry per KEYS[3..]: the
--         rate it was cut to, or '' if it was cut less than a cooldown ago}

local now
if ARGV[9] ~= '' then
  now = tonumber(ARGV[9])
else
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
end
local replica = ARGV[1]
local horizon = tonumber(ARGV[2])
local max_rate = tonumber(ARGV[3])
local min_rate = tonumber(ARGV[4])
local recovery = tonumber(ARGV[5])
local cooldown = tonumber(ARGV[6])
local replica_timeout = tonumber(ARGV[7])
local idle_ttl = tonumber(ARGV[8])

-- Numbers handed to redis.call become strings with 14 significant digits, too few for
-- microseconds since 1970: format them here.
local function int(x)
  return string.format('%.0f', x)
end
local function real(x)
  return string.format('%.17g', x)
end

local function load(lane)
  local v = redis.call('HMGET', lane, 'tat', 'rate', 'cut', 'by')
  return {tat = tonumber(v[1]) or 0, rate = tonumber(v[2]), cut = tonumber(v[3]), by = v[4]}
end

-- The lane's rate at time t: what the last cut left, regained linearly since, up to max_rate.
local function rate_at(s, t)
  if s.rate == nil or s.cut == nil then
    return max_rate
  end
  local rate = s.rate + recovery * math.max(0, t - s.cut) / 1000000
  return math.min(max_rate, rate)
end

-- Keep a lane until idle_ttl after the later of now and its next free slot.
local function keep(lane, s)
  redis.call('PEXPIRE', lane, int(idle_ttl + math.max(0, s.tat - now) / 1000))
end

local cuts = {}
for i = 3, #KEYS do
  local lane = KEYS[i]
  local s = load(lane)
  if s.cut == nil or now - s.cut >= cooldown then
    local rate = math.max(min_rate, rate_at(s, now) / 2)
    s.rate = rate
    s.cut = now
    s.tat = math.max(s.tat, now + 1000000 / rate)
    redis.call('HSET', lane, 'tat', int(s.tat), 'rate', real(rate), 'cut', int(now), 'by', replica)
    keep(lane, s)
    cuts[#cuts + 1] = real(rate)
  else
    cuts[#cuts + 1] = ''
  end
end

local lane = KEYS[2]
local s = load(lane)
local slot = math.max(now, s.tat)
local granted = 0
if horizon < 0 or slot - now <= horizon then
  granted = 1
  -- The slot after this one is spaced at the rate allowed when this one comes.
  s.tat = slot + 1000000 / rate_at(s, slot)
  redis.call('HSET', lane, 'tat', int(s.tat))
  keep(lane, s)
end

redis.call('ZADD', KEYS[1], int(now), replica)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. int(now - replica_timeout))
local replicas = redis.call('ZCARD', KEYS[1])
redis.call('PEXPIRE', KEYS[1], int(replica_timeout / 1000 + idle_ttl))

local reply = {
  granted,
  int(slot - now),
  real(rate_at(s, now)),
  s.cut and int(s.cut) or '',
  s.by or '',
  replicas,
  int(now),
}
for i = 1, #cuts do
  reply[#reply + 1] = cuts[i]
end
return reply
