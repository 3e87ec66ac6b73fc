import type { LedgerCount } from '../../src/modules/quota/send-ledger';
import { quotaKeys } from '../../src/modules/quota/quota-keys';
import type { QuotaService } from '../../src/modules/quota/quota.service';
import type { QuotaLimits, QuotaReservation, QuotaSubject, ReserveResult } from '../../src/modules/quota/quota.types';
import { quotaWindows } from '../../src/modules/quota/quota-windows';
import { EmptySendLedger } from '../../src/modules/quota/send-ledger';
import { MemoryLedger, RedisHarness, send, serverIds, tomorrowAt } from './quota-harness';

const unlimited: QuotaLimits = { hourly: null, daily: null, monthly: null };
const subjectOf = (limits: Partial<QuotaLimits>, timezone = 'UTC'): QuotaSubject => ({
  serverId: serverIds(),
  timezone,
  limits: { ...unlimited, ...limits },
});

describe('QuotaService against real Redis', () => {
  const harness = new RedisHarness();
  let ledger: MemoryLedger;
  let quota: QuotaService;
  const NOW = tomorrowAt(12, 20);

  beforeEach(() => {
    ledger = new MemoryLedger();
    quota = harness.quota(ledger);
  });
  afterAll(() => harness.close());

  const used = async (subject: QuotaSubject, now = NOW): Promise<[number, number, number]> => {
    const [u] = await quota.usage([subject], now);
    return [u.hourly.used, u.daily.used, u.monthly.used];
  };

  /** `workers` reservers, each on its own Redis connection, each trying `attempts` times. */
  async function race(subject: QuotaSubject, workers: number, attempts: number, onResult?: (r: ReserveResult, w: number) => Promise<void>): Promise<ReserveResult[]> {
    const services = Array.from({ length: workers }, () => harness.quota(ledger));
    const results: ReserveResult[] = [];
    await Promise.all(
      services.map(async (service, w) => {
        for (let i = 0; i < attempts; i++) {
          const result = await send(service, ledger, subject, NOW);
          results.push(result);
          await onResult?.(result, w);
        }
      }),
    );
    return results;
  }

  it('8 concurrent reservers on 8 connections reserve exactly 100 against a limit of 100', async () => {
    const subject = subjectOf({ hourly: 100 });
    const results = await race(subject, 8, 20);
    const granted = results.filter((r) => r.ok);
    expect(granted).toHaveLength(100);
    const refused = results.filter((r) => !r.ok);
    expect(refused).toHaveLength(60);
    const hourEnd = quotaWindows('UTC', NOW).hourly.end;
    for (const r of refused) expect(r).toEqual({ ok: false, window: 'HOURLY', resetsAt: hourEnd, limit: 100, used: 100 });
    expect(await used(subject)).toEqual([100, 100, 100]);
    // Every refusal after the 100th is the same answer: nothing was counted for it.
    expect(await quota.reserve(subject, NOW)).toMatchObject({ ok: false, window: 'HOURLY', used: 100 });
  });

  it('the three windows never drift apart in a mixed run of reserves, refusals and releases', async () => {
    // Limits on every window; the monthly one binds first, releases reopen room.
    const subject = subjectOf({ hourly: 90, daily: 80, monthly: 70 });
    let releases = 0;
    const results = await race(subject, 8, 25, async (result, w) => {
      if (result.ok && w % 3 === 0) {
        releases++;
        await harness.quota(ledger).release(result.reservation, NOW);
      }
    });
    const granted = results.filter((r) => r.ok).length;
    const counts = await used(subject);
    expect(counts).toEqual([granted - releases, granted - releases, granted - releases]);
    expect(counts[2]).toBeLessThanOrEqual(70);
    expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.window === 'MONTHLY')).toBe(true);
  });

  it('refuses with the window that reopens last when several are full', async () => {
    const subject = subjectOf({ hourly: 2, daily: 2, monthly: 5 });
    await send(quota, ledger, subject, NOW);
    await send(quota, ledger, subject, NOW);
    const windows = quotaWindows('UTC', NOW);
    expect(await quota.reserve(subject, NOW)).toEqual({ ok: false, window: 'DAILY', resetsAt: windows.daily.end, limit: 2, used: 2 });
  });

  it('counts windows with no limit (usage reports them) without ever blocking', async () => {
    const subject = subjectOf({ daily: 3 });
    for (let i = 0; i < 3; i++) expect((await quota.reserve(subject, NOW)).ok).toBe(true);
    const [u] = await quota.usage([subject], NOW);
    expect(u.hourly).toMatchObject({ used: 3, limit: null, remaining: null });
    expect(u.daily).toMatchObject({ used: 3, limit: 3, remaining: 0 });
    expect(u.monthly).toMatchObject({ used: 3, limit: null, remaining: null });
  });

  describe('release', () => {
    it('refunds one unit in all three windows, once per reservation', async () => {
      const subject = subjectOf({ hourly: 2 });
      const first = await quota.reserve(subject, NOW);
      const second = await quota.reserve(subject, NOW);
      if (!first.ok || !second.ok) throw new Error('expected two reservations');
      expect((await quota.reserve(subject, NOW)).ok).toBe(false);
      expect(await quota.release(first.reservation, NOW)).toBe(true);
      expect(await used(subject)).toEqual([1, 1, 1]);
      // A retried job releasing again gives nothing more back.
      expect(await quota.release(first.reservation, NOW)).toBe(false);
      expect(await used(subject)).toEqual([1, 1, 1]);
      // The marker that says so is kept for an hour, not until the monthly window ends.
      const markerTtl = await harness.client().pttl(quotaKeys.released(harness.prefix, subject.serverId, first.reservation.id));
      expect(markerTtl).toBeGreaterThan(59 * 60_000);
      expect(markerTtl).toBeLessThanOrEqual(60 * 60_000);
      expect((await quota.reserve(subject, NOW)).ok).toBe(true);
    });

    it('survives a JSON round trip (a reservation kept in a job payload)', async () => {
      const subject = subjectOf({});
      const r = await quota.reserve(subject, NOW);
      if (!r.ok) throw new Error('expected a reservation');
      const fromJob = JSON.parse(JSON.stringify(r.reservation)) as QuotaReservation;
      expect(await quota.release(fromJob, NOW)).toBe(true);
      expect(await used(subject)).toEqual([0, 0, 0]);
    });

    it('gives back in the windows it was taken from, even after the hour turned', async () => {
      const subject = subjectOf({});
      const r = await quota.reserve(subject, NOW);
      if (!r.ok) throw new Error('expected a reservation');
      const nextHour = new Date(NOW.getTime() + 60 * 60_000);
      expect((await quota.reserve(subject, nextHour)).ok).toBe(true);
      expect(await used(subject, nextHour)).toEqual([1, 2, 2]);
      expect(await quota.release(r.reservation, nextHour)).toBe(true);
      // The new hour keeps its send; the day and month (shared) lose the released one.
      expect(await used(subject, nextHour)).toEqual([1, 1, 1]);
      expect(await used(subject, NOW)).toEqual([0, 1, 1]);
    });

    it('never goes below zero, and does not recreate counters Redis lost', async () => {
      const subject = subjectOf({ hourly: 10 });
      const r = await quota.reserve(subject, NOW);
      if (!r.ok) throw new Error('expected a reservation');
      await harness.dropAllKeys();
      expect(await quota.release(r.reservation, NOW)).toBe(true);
      expect(await used(subject)).toEqual([0, 0, 0]);
    });

    it('does nothing once the reservation has expired', async () => {
      const subject = subjectOf({});
      const r = await quota.reserve(subject, NOW);
      if (!r.ok) throw new Error('expected a reservation');
      expect(await quota.release(r.reservation, new Date(r.reservation.expiresAt.getTime() + 1))).toBe(false);
      expect(await used(subject)).toEqual([1, 1, 1]);
    });
  });

  describe('rebuild after Redis loses its data', () => {
    it('seeds missing counters from the ledger before the first increment: no overshoot', async () => {
      const subject = subjectOf({ hourly: 100, daily: 120 });
      // 30 sends in the previous hour of the same day, recorded by the database.
      ledger.record(subject.serverId, new Date(NOW.getTime() - 60 * 60_000), 30);
      for (let i = 0; i < 60; i++) expect((await send(quota, ledger, subject, NOW)).ok).toBe(true);
      expect(await used(subject)).toEqual([60, 90, 90]);

      expect(await harness.dropAllKeys()).toBeGreaterThan(0);
      expect(await used(subject)).toEqual([0, 0, 0]);

      // 8 workers race into the rebuild at once: the day has 30 left, the hour 40.
      const results = await race(subject, 8, 10);
      expect(results.filter((r) => r.ok)).toHaveLength(30);
      const dayEnd = quotaWindows('UTC', NOW).daily.end;
      for (const r of results.filter((x) => !x.ok)) expect(r).toEqual({ ok: false, window: 'DAILY', resetsAt: dayEnd, limit: 120, used: 120 });
      expect(await used(subject)).toEqual([90, 120, 120]);
    });

    it('a unit taken before the loss and given back after the rebuild leaves the rebuilt counter alone (it never held that unit)', async () => {
      const subject = subjectOf({ hourly: 10 });
      const before = await quota.reserve(subject, NOW); // in flight, never recorded: it will be given back
      if (!before.ok) throw new Error('expected a reservation');
      await harness.dropAllKeys();
      expect((await send(quota, ledger, subject, NOW)).ok).toBe(true); // rebuilt (0 recorded) and counted: 1
      expect(await quota.release(before.reservation, NOW)).toBe(true);
      expect(await used(subject)).toEqual([1, 1, 1]);
      // A unit taken since the rebuild goes back as ever.
      const later = await quota.reserve(subject, NOW);
      if (!later.ok) throw new Error('expected a reservation');
      await quota.release(later.reservation, NOW);
      expect(await used(subject)).toEqual([1, 1, 1]);
    });

    it('a new window with no key is seeded from the ledger too (sends recorded before the counter existed)', async () => {
      const subject = subjectOf({ hourly: 5 });
      ledger.record(subject.serverId, new Date(NOW.getTime() - 60_000), 4);
      expect((await quota.reserve(subject, NOW)).ok).toBe(true);
      expect(await quota.reserve(subject, NOW)).toMatchObject({ ok: false, window: 'HOURLY', used: 5 });
      // The ledger is only asked while a counter is missing.
      const queries = ledger.queries;
      await quota.reserve(subject, NOW);
      expect(ledger.queries).toBe(queries);
    });

    it('jobs finding the same windows missing at once share one ledger count per window', async () => {
      // A ledger that answers only when the test says: every job meets the count in flight.
      let answer!: () => void;
      const answered = new Promise<void>((resolve) => (answer = resolve));
      class SlowLedger extends MemoryLedger {
        override countSends(serverId: string, from: Date, to: Date): Promise<LedgerCount> {
          const count = super.countSends(serverId, from, to);
          return answered.then(() => count);
        }
      }
      const slow = new SlowLedger();
      const client = harness.client();
      const service = harness.quota(slow, client);
      await harness.quota(new MemoryLedger(), client).reserve(subjectOf({}), NOW); // the script is loaded: one round trip per reservation below
      const subject = subjectOf({ hourly: 60 });
      slow.record(subject.serverId, new Date(NOW.getTime() - 60_000), 10);
      // One worker's 50 concurrent jobs start on a server whose counters are not in Redis.
      const reserving = Promise.all(Array.from({ length: 50 }, () => service.reserve(subject, NOW)));
      await client.ping(); // answered after all 50 scripts on this connection
      await new Promise((resolve) => setImmediate(resolve)); // and their replies handled
      answer();
      const results = await reserving;
      expect(results.filter((r) => r.ok)).toHaveLength(50);
      expect(slow.queries).toBe(3); // hourly, daily, monthly: once each
      expect(await used(subject)).toEqual([60, 60, 60]);
    });

    it('works with the default empty ledger (lost counters restart at zero)', async () => {
      const service = harness.quota(new EmptySendLedger());
      const subject = subjectOf({ hourly: 1 });
      expect((await service.reserve(subject, NOW)).ok).toBe(true);
      await harness.dropAllKeys();
      expect((await service.reserve(subject, NOW)).ok).toBe(true);
      expect((await service.reserve(subject, NOW)).ok).toBe(false);
    });
  });

  describe('changes apply at the next reservation', () => {
    it('a limit change', async () => {
      const subject = subjectOf({ hourly: 10 });
      for (let i = 0; i < 5; i++) await send(quota, ledger, subject, NOW);
      const lowered = { ...subject, limits: { ...subject.limits, hourly: 5 } };
      expect(await quota.reserve(lowered, NOW)).toMatchObject({ ok: false, window: 'HOURLY', limit: 5, used: 5 });
      const [u] = await quota.usage([{ ...subject, limits: { ...subject.limits, hourly: 3 } }], NOW);
      expect(u.hourly).toMatchObject({ used: 5, limit: 3, remaining: 0 });
      expect((await quota.reserve({ ...subject, limits: { ...subject.limits, hourly: 6 } }, NOW)).ok).toBe(true);
      expect((await quota.reserve({ ...subject, limits: unlimited }, NOW)).ok).toBe(true);
    });

    it('a timezone change: counting moves to the new zone windows, which include the sends made in them', async () => {
      const utc = subjectOf({ hourly: 10 });
      for (let i = 0; i < 5; i++) await send(quota, ledger, utc, NOW); // 12:20 UTC
      const kolkata: QuotaSubject = { ...utc, timezone: 'Asia/Kolkata' };
      // Kolkata's hour is 11:30-12:30 UTC: it holds the 5 sends, rebuilt from the ledger.
      expect((await send(quota, ledger, kolkata, NOW)).ok).toBe(true);
      const [k] = await quota.usage([kolkata], NOW);
      expect(k.timezone).toBe('Asia/Kolkata');
      expect(k.hourly).toMatchObject({ used: 6, limit: 10, remaining: 4 });
      expect(k.hourly.resetsAt.toISOString()).toBe(new Date(NOW.getTime() + 10 * 60_000).toISOString());
      // After 12:30 UTC the next Kolkata hour starts empty, while UTC's hour still holds its 5.
      const later = new Date(NOW.getTime() + 15 * 60_000);
      expect((await send(quota, ledger, kolkata, later)).ok).toBe(true);
      expect((await quota.usage([kolkata], later))[0].hourly.used).toBe(1);
      expect((await quota.usage([utc], later))[0].hourly.used).toBe(5);
    });
  });

  it('a worker whose clock runs hours behind Redis still counts (expiries are relative)', async () => {
    const subject = subjectOf({ hourly: 5 });
    const behind = new Date(Date.now() - 3 * 60 * 60_000);
    expect((await quota.reserve(subject, behind)).ok).toBe(true);
    expect((await quota.reserve(subject, behind)).ok).toBe(true);
    expect(await used(subject, behind)).toEqual([2, 2, 2]);
  });

  it('refuses limits that are not whole numbers >= 0', async () => {
    await expect(quota.reserve(subjectOf({ hourly: -1 }), NOW)).rejects.toThrow(RangeError);
    await expect(quota.reserve(subjectOf({ daily: 1.5 }), NOW)).rejects.toThrow(/daily/);
  });
});
