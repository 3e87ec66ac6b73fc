/**
 * Hand out the next send slot of one server, `pauseMs` after the previous slot, on Redis's clock
 * (TIME), so workers on machines with skewed clocks still space their sends correctly: the
 * caller only ever sees a relative wait.
 *
 * KEYS[1]  the start of the last slot handed out (ms, Redis clock)
 * KEYS[2], KEYS[3]  the waiting line of LINE_WAKE_LUA (times, order): a send that takes its slot
 *          leaves it (optional)
 * ARGV[1]  pauseMs
 * ARGV[2]  the longest wait the caller will accept; -1 = any. A longer wait is reported but the
 *          slot is not taken, so a caller that re-schedules does not burn a slot nobody uses.
 * ARGV[3]  the send taking the slot ('' or absent: none in the line)
 * Returns {taken (1|0), waitMs, the place in the line's order it gave up (-1: none)}.
 *
 * The gap is measured from the previous slot with the current pauseMs, so a changed pause
 * applies to the very next send. The key expires once its slot no longer constrains anyone.
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
local order = -1
if ARGV[3] and ARGV[3] ~= '' then
  order = tonumber(redis.call('ZSCORE', KEYS[3], ARGV[3]) or -1)
  redis.call('ZREM', KEYS[2], ARGV[3])
  redis.call('ZREM', KEYS[3], ARGV[3])
end
return {1, wait, order}
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

/**
 * When a send that cannot have a slot soon should come back: a place in the server's waiting
 * line, so the sends waiting for a far slot come back one pause apart, in the order they joined,
 * instead of all at the next free slot (where one would take it and every other one come back
 * again: N waiting sends cost N²/2 wake-ups). Nothing is booked: a send coming back still takes
 * its slot with NEXT_SLOT_LUA, so spacing never depends on the line. Real sends are a pause plus
 * the send apart, so the estimate is early; a send coming back too early asks again and keeps
 * its place in the order, with fewer ahead of it by then.
 *
 * A send's place counts the sends that joined before it and are still in the line: one leaves
 * when it takes its slot (NEXT_SLOT_LUA), when it will not come back (PacingService.leaveLine: a
 * paused campaign, a re-route, a quota wait), or, never having come back, `grace` after its time.
 *
 * KEYS[1]  the slot schedule of NEXT_SLOT_LUA
 * KEYS[2]  the line's times: member = the waiting send, score = when it was told to come back (ms)
 * KEYS[3]  the line's order: member = the waiting send, score = the order it joined in
 * KEYS[4]  the counter the order numbers come from
 * ARGV[1]  pauseMs
 * ARGV[2]  the waiting send (its message id)
 * ARGV[3]  grace (ms)
 * ARGV[4]  the least wait (ms): the caller's own answer, which the place never comes before
 * ARGV[5]  the place in the order the send had before it took a slot it could not use after all
 *          (CONFIRM_START_LUA held it back): it rejoins there, not at the back; 0 for none
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
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. string.format('%d', now - grace), 'LIMIT', 0, 500)
if #gone > 0 then
  redis.call('ZREM', KEYS[2], unpack(gone))
  redis.call('ZREM', KEYS[3], unpack(gone))
end
local order = redis.call('ZSCORE', KEYS[3], ARGV[2])
if not order then
  if ARGV[5] and tonumber(ARGV[5]) > 0 then
    order = ARGV[5]
  else
    order = redis.call('INCR', KEYS[4])
  end
  redis.call('ZADD', KEYS[3], order, ARGV[2])
end
local ahead = redis.call('ZCOUNT', KEYS[3], '-inf', '(' .. order)
-- Never more ahead than are waiting and not lapsed (lapsed places beyond the 500 removed above).
local live = redis.call('ZCOUNT', KEYS[2], '(' .. string.format('%d', now - grace), '+inf')
local own = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[2]))
if own and own > now - grace then
  live = live - 1
end
if ahead > live then
  ahead = live
end
local wake = math.max(frontier + ahead * pause, now + tonumber(ARGV[4]))
redis.call('ZADD', KEYS[2], string.format('%d', wake), ARGV[2])
local keep = wake - now + grace
for i = 2, 4 do
  if redis.call('PTTL', KEYS[i]) < keep then
    redis.call('PEXPIRE', KEYS[i], string.format('%d', keep))
  end
end
return wake - now
`;
