/**
 * Hand out the next send slot of one server, `pauseMs` after the previous slot, on Redis's clock
 * (TIME), so workers on machines with skewed clocks still space their sends correctly: the
 * caller only ever sees a relative wait.
 *
 * KEYS[1]  the start of the last slot handed out (ms, Redis clock)
 * ARGV[1]  pauseMs
 * ARGV[2]  the longest wait the caller will accept; -1 = any. A longer wait is reported but the
 *          slot is not taken, so a caller that re-schedules does not burn a slot nobody uses.
 *
 * The gap is measured from the previous slot with the current pauseMs, so a changed pause
 * applies to the very next send. The key expires once its slot no longer constrains anyone.
 * Returns {taken (1|0), waitMs}.
 */
export const NEXT_SLOT_LUA = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local pause = tonumber(ARGV[1])
local maxWait = tonumber(ARGV[2])
local last = tonumber(redis.call('GET', KEYS[1]))
local slot = now
if last and last + pause > now then
  slot = last + pause
end
local wait = slot - now
if maxWait >= 0 and wait > maxWait then
  return {0, wait}
end
redis.call('SET', KEYS[1], string.format('%d', slot), 'PX', string.format('%d', wait + pause + 1000))
return {1, wait}
`;

/**
 * Confirm that a send starts now: the guard against a worker that took its slot but starts late
 * (a busy event loop, a GC pause, a slow machine). Slots are handed out ahead of time, so a late
 * start would sit closer than pauseMs to the next worker's on-time one; here every actual start
 * is checked against the previous actual start, on Redis's clock, and refused until the pause
 * has passed. A late start also moves the slot schedule on, so later slots queue behind it.
 *
 * While the previous send is still in progress (KEYS[3], set here and cleared by MARK_SENT_LUA)
 * a start is refused too: the provider sees a message only at the end of its send, so arrivals
 * stay pauseMs apart only when each start waits for the previous end. The in-flight mark
 * expires after ARGV[2] ms, so a worker that died mid-send does not block the server.
 *
 * KEYS[1]  the last confirmed start (ms, Redis clock)
 * KEYS[2]  the slot schedule of NEXT_SLOT_LUA
 * KEYS[3]  the in-flight mark
 * ARGV[1]  pauseMs
 * ARGV[2]  the longest a send may take (ms)
 * Returns {started (1|0), waitMs}: when 0, try again after waitMs.
 */
export const CONFIRM_START_LUA = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local pause = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[1]))
if last and last + pause > now then
  return {0, last + pause - now}
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  return {0, math.min(pause, 25)}
end
local ttl = string.format('%d', pause + 1000)
redis.call('SET', KEYS[1], string.format('%d', now), 'PX', ttl)
redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
local scheduled = tonumber(redis.call('GET', KEYS[2]))
if not scheduled or scheduled < now then
  redis.call('SET', KEYS[2], string.format('%d', now), 'PX', ttl)
end
return {1, 0}
`;

/**
 * Record that a send through the server has finished (delivered or failed). The next start must
 * then wait pauseMs from this moment, not only from the previous start: the provider sees a
 * message somewhere between start and end of the send, so only end + pause keeps arrivals
 * pauseMs apart however long each send takes. Also moves the slot schedule on.
 *
 * KEYS[1]  the last confirmed start (ms, Redis clock)
 * KEYS[2]  the slot schedule of NEXT_SLOT_LUA
 * KEYS[3]  the in-flight mark, cleared
 * ARGV[1]  pauseMs
 */
export const MARK_SENT_LUA = `
redis.call('DEL', KEYS[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = string.format('%d', tonumber(ARGV[1]) + 1000)
for i = 1, 2 do
  local value = tonumber(redis.call('GET', KEYS[i]))
  if not value or value < now then
    redis.call('SET', KEYS[i], string.format('%d', now), 'PX', ttl)
  end
end
return 1
`;
