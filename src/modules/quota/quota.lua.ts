/**
 * Reserve one send in the hourly, daily and monthly counters of one server: all three or none.
 * One script, so no other worker can slip in between the check and the increment.
 *
 * KEYS[1..3]  the hourly, daily and monthly counters
 * ARGV[1..3]  limits; -1 = unlimited (still counted, never blocks)
 * ARGV[4..6]  each counter's time to live (PX, ms): until a while after its window ends.
 *             Relative, so a worker whose clock differs from Redis's cannot set a past expiry
 * ARGV[7..9]  the count to seed a missing counter with (from the send ledger); '' = not known
 *
 * A missing counter (new window, or Redis lost its data) is never incremented from zero: the
 * script answers which ones are missing; the caller counts them in the ledger and calls again
 * with seeds. Seeding happens here, only for keys still missing, so two workers seeding at once
 * cannot add up: the first one wins and the second one's seed is ignored.
 *
 * Returns {'MISSING', i, ...} | {'FULL', i, used, i, used, ...} | {'OK', hourly, daily, monthly}
 */
export const RESERVE_LUA = `
local missing = {}
for i = 1, 3 do
  if redis.call('EXISTS', KEYS[i]) == 0 and ARGV[6 + i] == '' then
    missing[#missing + 1] = i
  end
end
if #missing > 0 then
  return {'MISSING', unpack(missing)}
end
for i = 1, 3 do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    redis.call('SET', KEYS[i], ARGV[6 + i], 'PX', ARGV[3 + i])
  end
end
local used = {}
local full = {}
for i = 1, 3 do
  used[i] = tonumber(redis.call('GET', KEYS[i]))
  local limit = tonumber(ARGV[i])
  if limit >= 0 and used[i] >= limit then
    full[#full + 1] = i
    full[#full + 1] = used[i]
  end
end
if #full > 0 then
  return {'FULL', unpack(full)}
end
for i = 1, 3 do
  used[i] = redis.call('INCR', KEYS[i])
end
return {'OK', used[1], used[2], used[3]}
`;

/**
 * Give one reserved send back to the windows it was taken from.
 *
 * KEYS[1..3]  the counters of the reservation's windows (not the current ones)
 * KEYS[4]     the reservation's release marker
 * ARGV[1]     the marker's time to live (PX, ms): long enough for a retried release
 *
 * The marker makes a second release of the same reservation (a retried job) a no-op. A counter
 * that is gone (its window expired, or Redis lost it) is not recreated, and none goes below 0.
 * Returns 1 when released, 0 when this reservation was already released.
 */
export const RELEASE_LUA = `
if not redis.call('SET', KEYS[4], '1', 'NX', 'PX', ARGV[1]) then
  return 0
end
for i = 1, 3 do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used > 0 then
    redis.call('DECR', KEYS[i])
  end
end
return 1
`;
