/**
 * Reserve one send in the hourly, daily and monthly counters of one server: all three or none.
 * One script, so no other worker can slip in between the check and the increment.
 *
 * KEYS[1..3]  the hourly, daily and monthly counters
 * KEYS[4..6]  their generation keys (quotaKeys.generation)
 * ARGV[1..3]  limits; -1 = unlimited (still counted, never blocks)
 * ARGV[4..6]  each counter's time to live (PX, ms): until a while after its window ends.
 *             Relative, so a worker whose clock differs from Redis's cannot set a past expiry
 * ARGV[7..9]  the count to seed a missing counter with (from the send ledger); '' = not known
 * ARGV[10]    the generation a counter seeded by this call gets
 *
 * A missing counter (new window, or Redis lost its data) is never incremented from zero: the
 * script answers which ones are missing; the caller counts them in the ledger and calls again
 * with seeds. Seeding happens here, only for keys still missing, so two workers seeding at once
 * cannot add up: the first one wins and the second one's seed is ignored.
 *
 * Returns {'MISSING', i, ...} | {'FULL', i, used, i, used, ...} |
 * {'OK', hourly, daily, monthly, hourly generation, daily generation, monthly generation}
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
    redis.call('SET', KEYS[3 + i], ARGV[10], 'PX', ARGV[3 + i])
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
local generation = {}
for i = 1, 3 do
  used[i] = redis.call('INCR', KEYS[i])
  generation[i] = redis.call('GET', KEYS[3 + i]) or ''
end
return {'OK', used[1], used[2], used[3], generation[1], generation[2], generation[3]}
`;

/**
 * Give one reserved send back to the windows it was taken from.
 *
 * KEYS[1..3]  the counters of the reservation's windows (not the current ones)
 * KEYS[4]     the reservation's release marker
 * KEYS[5..7]  the counters' generation keys
 * ARGV[1]     the marker's time to live (PX, ms): long enough for a retried release
 * ARGV[2..4]  the generation of each counter when the unit was taken
 *
 * The marker makes a second release of the same reservation (a retried job) a no-op. A counter
 * that is gone (its window expired, or Redis lost it) is not recreated, and none goes below 0.
 * A counter seeded anew since the reservation (Redis lost its data) never held its unit, and is
 * left alone. Returns 1 when released, 0 when this reservation was already released.
 */
export const RELEASE_LUA = `
if not redis.call('SET', KEYS[4], '1', 'NX', 'PX', ARGV[1]) then
  return 0
end
for i = 1, 3 do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used > 0 and (redis.call('GET', KEYS[4 + i]) or '') == ARGV[1 + i] then
    redis.call('DECR', KEYS[i])
  end
end
return 1
`;

/**
 * Add to a seeded counter the sends its seed missed: reserved before Redis lost its data but
 * recorded only after the ledger was counted. Only while the counter is still the seeding's own.
 *
 * KEYS[1] the counter, KEYS[2] its generation key; ARGV[1] the seeding's generation, ARGV[2] the sends missed
 * Returns the new count, or false when the counter is gone or seeded again since.
 */
export const RECONCILE_LUA = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] or redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
return redis.call('INCRBY', KEYS[1], ARGV[2])
`;
