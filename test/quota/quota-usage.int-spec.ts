import type { QuotaSubject } from '../../src/modules/quota/quota.types';
import { quotaWindows } from '../../src/modules/quota/quota-windows';
import { usageFingerprint, usageOf } from '../../src/modules/quota/quota.service';
import { recordCommands } from '../utils/redis-commands';
import { MemoryLedger, RedisHarness, send, serverIds, tomorrowAt } from './quota-harness';

describe('QuotaService.usage', () => {
  const harness = new RedisHarness();
  const NOW = tomorrowAt(12, 20);
  afterAll(() => harness.close());

  it('answers used/limit/remaining/resetsAt for every window of many servers in one Redis round trip', async () => {
    const ledger = new MemoryLedger();
    const client = harness.client();
    const quota = harness.quota(ledger, client);
    const subjects: QuotaSubject[] = [
      { serverId: serverIds(), timezone: 'UTC', limits: { hourly: 10, daily: null, monthly: 1000 } },
      { serverId: serverIds(), timezone: 'Asia/Kolkata', limits: { hourly: null, daily: 5, monthly: null } },
      { serverId: serverIds(), timezone: 'Asia/Kathmandu', limits: { hourly: 2, daily: 2, monthly: 2 } },
      { serverId: serverIds(), timezone: 'America/New_York', limits: { hourly: null, daily: null, monthly: null } },
    ];
    for (const [i, subject] of subjects.entries()) for (let n = 0; n < i + 1; n++) await send(quota, ledger, subject, NOW);

    const { commands, stop } = recordCommands(client);
    const usage = await quota.usage(subjects, NOW);
    stop();

    expect(commands).toHaveLength(1);
    expect(commands[0][0].toLowerCase()).toBe('mget');
    expect(commands[0]).toHaveLength(1 + 3 * subjects.length);

    const kolkata = quotaWindows('Asia/Kolkata', NOW);
    expect(usage[1]).toEqual({
      timezone: 'Asia/Kolkata',
      hourly: { used: 2, limit: null, remaining: null, resetsAt: kolkata.hourly.end },
      daily: { used: 2, limit: 5, remaining: 3, resetsAt: kolkata.daily.end },
      monthly: { used: 2, limit: null, remaining: null, resetsAt: kolkata.monthly.end },
    });
    expect(usage[0].hourly).toMatchObject({ used: 1, limit: 10, remaining: 9 });
    expect(usage[0].monthly).toMatchObject({ used: 1, limit: 1000, remaining: 999 });
    // Kathmandu: 2 of 2 used, the third send was refused and not counted.
    expect(usage[2].daily).toMatchObject({ used: 2, limit: 2, remaining: 0 });
    expect(usage[2].hourly.resetsAt.getUTCMinutes()).toBe(15);
    expect(usage[3].timezone).toBe('America/New_York');
    expect(usage[3].monthly).toMatchObject({ used: 4, limit: null, remaining: null });
  });

  it("a reading's fingerprint changes exactly when the usage it shows does: a counter, a zone, a window that ends", async () => {
    const ledger = new MemoryLedger();
    const quota = harness.quota(ledger);
    const subjects: QuotaSubject[] = [0, 1, 2].map(() => ({ serverId: serverIds(), timezone: 'Europe/Berlin', limits: { hourly: 10, daily: null, monthly: null } }));
    const fingerprint = async (of = subjects, at = NOW): Promise<string> => usageFingerprint(await quota.readUsage(of, at));
    const before = await fingerprint();
    expect(await fingerprint()).toBe(before);
    // Later within the same windows: nothing shown changes.
    expect(await fingerprint(subjects, new Date(NOW.getTime() + 60_000))).toBe(before);

    await send(quota, ledger, subjects[2], NOW);
    const counted = await fingerprint();
    expect(counted).not.toBe(before);
    expect(usageOf(await quota.readUsage(subjects, NOW))[2].hourly.used).toBe(1);

    expect(await fingerprint(subjects.map((s) => ({ ...s, timezone: 'Asia/Kathmandu' })))).not.toBe(counted);
    // Which subject is on which clock counts, not only how many are.
    const oneMoved = (i: number): QuotaSubject[] => subjects.map((s, j) => (j === i ? { ...s, timezone: 'Asia/Kathmandu' } : s));
    const moved = [await fingerprint(oneMoved(0)), await fingerprint(oneMoved(1)), await fingerprint(oneMoved(2))];
    expect(new Set([...moved, counted]).size).toBe(4);
    // The next hour: a new window, its counters empty.
    expect(await fingerprint(subjects, new Date(NOW.getTime() + 3_600_000))).not.toBe(counted);
  });

  it('an empty list costs nothing; an unused server reads zero with the next resets', async () => {
    const quota = harness.quota(new MemoryLedger());
    expect(await quota.usage([], NOW)).toEqual([]);
    const [u] = await quota.usage([{ serverId: serverIds(), timezone: 'UTC', limits: { hourly: 3, daily: null, monthly: null } }], NOW);
    expect(u.hourly).toEqual({ used: 0, limit: 3, remaining: 3, resetsAt: quotaWindows('UTC', NOW).hourly.end });
  });
});
