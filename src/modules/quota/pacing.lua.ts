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
