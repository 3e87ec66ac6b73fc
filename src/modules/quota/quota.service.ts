import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import { SingleFlight } from '../../infra/batching/batcher';
import { REDIS } from '../../infra/redis/redis.module';
import { LuaScript } from './lua-script';
import { quotaKeys } from './quota-keys';
import { parseReserveReply } from './quota-replies';
import { RECONCILE_LUA, RELEASE_LUA, RESERVE_LUA } from './quota.lua';
import type { QuotaLimits, QuotaReservation, QuotaSubject, QuotaUsage, QuotaWindowUsage, ReserveResult } from './quota.types';
import { type QuotaWindows, type QuotaWindowSpan, quotaWindows } from './quota-windows';
import { EmptySendLedger, type LedgerCount, SEND_LEDGER, type SendLedger } from './send-ledger';

/**
 * Counters outlive their window by an hour: a release after the window closed, or a worker whose
 * clock runs a little late, still finds the count instead of rebuilding it from the ledger.
 */
const KEY_GRACE_MS = 60 * 60_000;
/**
 * A release marker only has to outlive a second release of the same reservation, which comes
 * from the same job within moments (a retried call whose first answer was lost), not for as
 * long as the monthly window: a marker per release kept until the month ends would pile up.
 */
const RELEASE_MARKER_TTL_MS = 60 * 60_000;
/** Seeding needs two rounds; a third only if a counter expired between them. More is a bug. */
const MAX_ROUNDS = 4;
const LIMIT_KEYS = ['hourly', 'daily', 'monthly'] as const;

/**
 * Hourly, daily and monthly send quotas of delivery servers, counted in Redis on the owner
 * account's clock (CONTRACT.md §4 "Quota and pacing"). Callers pass the server's current
 * timezone and limits every time, so a change applies to the next reservation.
 *
 * After Redis loses its data, counters are rebuilt from the SendLedger (sends the database
 * recorded, by when their attempt began). Sends in flight at that moment are recorded only after
 * the rebuild counted: the seeding worker counts the window again for them later (reconcile) and
 * adds what it missed, and a release of a unit taken before the rebuild leaves the rebuilt
 * counter alone (generations). What no rebuild sees: attempts that reached the provider, kept
 * their unit and failed (they are never recorded SENT).
 */
@Injectable()
export class QuotaService {
  private readonly reserveScript = new LuaScript(RESERVE_LUA);
  private readonly releaseScript = new LuaScript(RELEASE_LUA);
  private readonly prefix: string;
  private readonly ledger: SendLedger;
  /**
   * Reservations that find the same window missing at once share one ledger count: a worker
   * starting on a new server (or after Redis lost its data) would otherwise run one per job in
   * flight, fifty COUNTs for one number.
   */
  private readonly ledgerCounts = new SingleFlight<LedgerCount>();
  private readonly reconcileScript = new LuaScript(RECONCILE_LUA);
  private readonly logger = new Logger(QuotaService.name);
  private readonly reconcileAfterMs: number[];

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    // Tests that build it alone pass no `quota`: counters they seed are not reconciled.
    @Inject(APP_CONFIG) config: Pick<AppConfig, 'redis'> & Partial<Pick<AppConfig, 'quota'>>,
    // Optional: until the messages module provides the PostgreSQL ledger, lost counters restart at 0.
    @Optional() @Inject(SEND_LEDGER) ledger?: SendLedger,
  ) {
    this.prefix = config.redis.prefix;
    this.ledger = ledger ?? new EmptySendLedger();
    this.reconcileAfterMs = config.quota?.reconcileAfterMs ?? [];
  }

  /**
   * Count one send in all three current windows, or in none when any of them is full. Call it
   * right before handing the message to the provider; `release` it if the send never got there.
   */
  async reserve(subject: QuotaSubject, now: Date = new Date()): Promise<ReserveResult> {
    checkLimits(subject.limits);
    const windows = quotaWindows(subject.timezone, now);
    const spans: QuotaWindowSpan[] = [windows.hourly, windows.daily, windows.monthly];
    const keys = spans.map((w) => quotaKeys.counter(this.prefix, subject.serverId, w.id));
    const generationKeys = spans.map((w) => quotaKeys.generation(this.prefix, subject.serverId, w.id));
    // The generation a counter this call seeds gets; the seeds it offered, to reconcile if it won.
    const generation = randomUUID();
    const seeded: { index: number; count: LedgerCount }[] = [];
    const limits = LIMIT_KEYS.map((k) => subject.limits[k] ?? -1);
    const expiries = spans.map((w) => w.end.getTime() + KEY_GRACE_MS);
    const ttls = expiries.map((at) => at - now.getTime());
    const seeds: string[] = ['', '', ''];

    for (let round = 0; round < MAX_ROUNDS; round++) {
      const reply = parseReserveReply(await this.reserveScript.run(this.redis, [...keys, ...generationKeys], [...limits, ...ttls, ...seeds, generation]));
      if (reply.kind !== 'MISSING' && seeded.length) await this.reconcileLater(subject.serverId, seeded, spans, keys, generationKeys, generation);
      switch (reply.kind) {
        case 'OK':
          return {
            ok: true,
            reservation: {
              id: randomUUID(),
              serverId: subject.serverId,
              windowIds: { hourly: windows.hourly.id, daily: windows.daily.id, monthly: windows.monthly.id },
              generations: { hourly: reply.generations[0], daily: reply.generations[1], monthly: reply.generations[2] },
              expiresAt: new Date(Math.max(...expiries)),
            },
          };
        case 'FULL': {
          // Report the window that reopens last: deferring to an earlier reset would not help.
          const worst = reply.full.reduce((a, b) => (spans[b.index].end > spans[a.index].end ? b : a));
          const span = spans[worst.index];
          return { ok: false, window: span.kind, resetsAt: span.end, limit: limits[worst.index], used: worst.used };
        }
        case 'MISSING': {
          // Redis has no count for these windows (new window, or lost data): count the sends the
          // database recorded in them; the script seeds only keys that are still missing.
          const counts = await Promise.all(
            reply.indexes.map((i) => this.ledgerCounts.run(`${subject.serverId}\n${spans[i].id}`, () => this.ledger.countSends(subject.serverId, spans[i].start, spans[i].end))),
          );
          reply.indexes.forEach((i, n) => {
            seeds[i] = String(Math.max(0, Math.floor(counts[n].sends)));
            seeded.push({ index: i, count: counts[n] });
          });
          break;
        }
      }
    }
    throw new Error(`Quota counters of server ${subject.serverId} kept disappearing while being seeded`);
  }

  /**
   * Give a reserved send back (it never reached the provider) in exactly the windows it was
   * counted in, even if the clock has moved on. Releasing twice gives back once. Returns
   * whether anything was given back.
   */
  async release(reservation: QuotaReservation, now: Date = new Date()): Promise<boolean> {
    // A reservation kept in a job payload comes back with its Date as a string.
    const expiresAt = new Date(reservation.expiresAt).getTime();
    if (expiresAt <= now.getTime()) return false;
    const { serverId, windowIds, id } = reservation;
    const windowList = [windowIds.hourly, windowIds.daily, windowIds.monthly];
    const keys = [
      ...windowList.map((w) => quotaKeys.counter(this.prefix, serverId, w)),
      quotaKeys.released(this.prefix, serverId, id),
      ...windowList.map((w) => quotaKeys.generation(this.prefix, serverId, w)),
    ];
    const g = reservation.generations;
    const generations = g ? [g.hourly, g.daily, g.monthly] : ['', '', ''];
    return (await this.releaseScript.run(this.redis, keys, [Math.min(expiresAt - now.getTime(), RELEASE_MARKER_TTL_MS), ...generations])) === 1;
  }

  /**
   * The counters this call seeded (if its seed won: two workers may seed at once) are counted
   * again later in the ledger, up to the instant of the seeding count, and get what that count
   * missed: sends in flight when Redis lost its data, recorded since. In the background; a pass
   * that fails is logged, and the next one (or none) makes up for it.
   */
  private async reconcileLater(
    serverId: string,
    seeded: { index: number; count: LedgerCount }[],
    spans: QuotaWindowSpan[],
    keys: string[],
    generationKeys: string[],
    generation: string,
  ): Promise<void> {
    // Redis trouble here only costs the reconciliation: the reservation stands.
    const current = await this.redis.mget(...seeded.map((s) => generationKeys[s.index])).catch(() => [] as (string | null)[]);
    for (const [n, { index, count }] of seeded.entries()) {
      if (current[n] !== generation) continue;
      let accounted = count.sends;
      const pass = async (): Promise<void> => {
        const now = await this.ledger.countSends(serverId, spans[index].start, count.at);
        const missed = now.sends - accounted;
        if (missed <= 0) return;
        await this.reconcileScript.run(this.redis, [keys[index], generationKeys[index]], [generation, missed]);
        // Only once added: a pass whose Redis call failed leaves the missed sends to the next one.
        accounted = now.sends;
      };
      for (const after of this.reconcileAfterMs) {
        setTimeout(() => {
          pass().catch((err: unknown) => this.logger.warn(`Quota counter ${keys[index]} could not be reconciled with the ledger (${err instanceof Error ? err.message : 'error'})`));
        }, after).unref();
      }
    }
  }

  /**
   * The owner's clock changed (`zones`: the old and the new): the counters of the current windows
   * on both clocks are dropped, so the next reservation rebuilds them from the ledger. Each zone's
   * windows have keys of their own, and a counter left from before a change would otherwise come
   * back short of every send made on the other clock meanwhile (change the zone and back within
   * a month, and the month's count would miss the sends in between).
   */
  async forgetCurrentWindows(serverIds: readonly string[], zones: readonly string[], now: Date = new Date()): Promise<void> {
    if (!serverIds.length) return;
    const windows = [...new Set(zones)].map((zone) => quotaWindows(zone, now));
    const pipeline = this.redis.pipeline();
    for (const serverId of serverIds) {
      pipeline.del(...windows.flatMap((w) => LIMIT_KEYS.map((k) => quotaKeys.counter(this.prefix, serverId, w[k].id))));
    }
    const replies = (await pipeline.exec()) ?? [];
    const failed = replies.find(([err]) => err)?.[0];
    if (failed) throw failed;
  }

  /** Used, limit, remaining and reset time of each current window, for many servers in one Redis round trip. */
  async usage(subjects: readonly QuotaSubject[], now: Date = new Date()): Promise<QuotaUsage[]> {
    return usageOf(await this.readUsage(subjects, now));
  }

  /** The counters `usage` shows, read in one Redis round trip, before they are shaped (usageOf, usageFingerprint). */
  async readUsage(subjects: readonly QuotaSubject[], now: Date = new Date()): Promise<UsageReading> {
    if (subjects.length === 0) return { plans: [], values: [] };
    // Servers of one owner share its zone: its windows are worked out once.
    const byZone = new Map<string, QuotaWindows>();
    const windowsIn = (zone: string): QuotaWindows => {
      let windows = byZone.get(zone);
      if (!windows) byZone.set(zone, (windows = quotaWindows(zone, now)));
      return windows;
    };
    const plans = subjects.map((subject) => ({ subject, windows: windowsIn(subject.timezone) }));
    const keys = plans.flatMap(({ subject, windows }) => LIMIT_KEYS.map((k) => quotaKeys.counter(this.prefix, subject.serverId, windows[k].id)));
    // One MGET: the keys of different servers sit in different cluster slots, which is fine on
    // the single Redis this app runs against (a cluster would need a pipeline here).
    return { plans, values: await this.redis.mget(...keys) };
  }
}

/** What QuotaService.readUsage read: each subject with its current windows, and their three counters in order. */
export type UsageReading = { plans: { subject: QuotaSubject; windows: QuotaWindows }[]; values: (string | null)[] };

/** Used, limit, remaining and reset time of each window of a reading. */
export function usageOf({ plans, values }: UsageReading): QuotaUsage[] {
  return plans.map(({ subject, windows }, s) => {
    const window = (k: (typeof LIMIT_KEYS)[number], i: number): QuotaWindowUsage => {
      const used = Number(values[s * 3 + i] ?? 0);
      const limit = subject.limits[k];
      return { used, limit, remaining: limit === null ? null : Math.max(0, limit - used), resetsAt: windows[k].end };
    };
    return { timezone: subject.timezone, hourly: window('hourly', 0), daily: window('daily', 1), monthly: window('monthly', 2) };
  });
}

/**
 * Equal for two readings exactly when usageOf shows the same for them, given the same subjects'
 * limits (which it leaves out): each subject's zone and window ends, and every counter. Cheaper
 * than comparing the usage: subjects in a row with the same zone (one readUsage works out each
 * zone's windows once) are written once, with their number.
 */
export function usageFingerprint({ plans, values }: UsageReading): string {
  const runs: string[] = [];
  let count = 0;
  for (let i = 0; i < plans.length; i++) {
    count++;
    const { subject, windows } = plans[i];
    if (plans[i + 1]?.windows === windows && plans[i + 1].subject.timezone === subject.timezone) continue;
    runs.push(`${subject.timezone}@${LIMIT_KEYS.map((k) => windows[k].end.getTime()).join('/')}*${count}`);
    count = 0;
  }
  return `${runs.join(',')}|${values.join(',')}`;
}

function checkLimits(limits: QuotaLimits): void {
  for (const k of LIMIT_KEYS) {
    const limit = limits[k];
    if (limit !== null && (!Number.isInteger(limit) || limit < 0)) throw new RangeError(`Quota limit ${k} must be a whole number >= 0 or null, got ${limit}`);
  }
}
