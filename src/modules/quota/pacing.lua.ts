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
 * KEYS[4]  the waiting line of LINE_WAKE_LUA
 * ARGV[1]  pauseMs
 * ARGV[2]  the longest a send may take (ms)
 * ARGV[3]  the starting send's place in the line, left once it starts ('' for none)
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
if ARGV[3] and ARGV[3] ~= '' then
  redis.call('ZREM', KEYS[4], ARGV[3])
end
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

/**
 * When a send that cannot have a slot soon should come back: a place in the server's waiting
 * line, so the sends waiting for a far slot come back one pause apart, in the order they joined,
 * instead of all at the next free slot (where one would take it and every other one come back
 * again: N waiting sends cost N²/2 wake-ups). Nothing is booked: a send coming back still takes
 * its slot with NEXT_SLOT_LUA, so spacing never depends on the line. Real sends are a pause plus
 * the send apart, so the line's estimate is early; a send coming back too early asks again and
 * is told a nearer time, as fewer are ahead of it by then.
 *
 * KEYS[1]  the slot schedule of NEXT_SLOT_LUA
 * KEYS[2]  the line: member = the waiting send, score = when it was told to come back (ms)
 * ARGV[1]  pauseMs
 * ARGV[2]  the waiting send (its message id)
 * ARGV[3]  grace (ms): a send not back this long after its time has gone (a paused campaign, a
 *          re-route) and no longer holds its place
 * Returns the wait in ms (Redis clock).
 */
export const LINE_WAKE_LUA = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local pause = tonumber(ARGV[1])
local grace = tonumber(ARGV[3])
local frontier = now
local last = tonumber(redis.call('GET', KEYS[1]))
if last and last + pause > now then
  frontier = last + pause
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. string.format('%d', now - grace))
local ahead
local previous = redis.call('ZSCORE', KEYS[2], ARGV[2])
if previous then
  ahead = redis.call('ZCOUNT', KEYS[2], '-inf', '(' .. previous)
else
  ahead = redis.call('ZCARD', KEYS[2])
end
local wake = frontier + ahead * pause
redis.call('ZADD', KEYS[2], string.format('%d', wake), ARGV[2])
local keep = wake - now + grace
if redis.call('PTTL', KEYS[2]) < keep then
  redis.call('PEXPIRE', KEYS[2], string.format('%d', keep))
end
return wake - now
`;
