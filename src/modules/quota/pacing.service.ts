import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { setTimeout as delay } from 'node:timers/promises';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import { REDIS } from '../../infra/redis/redis.module';
import { LuaScript } from './lua-script';
import { CONFIRM_START_LUA, LINE_WAKE_LUA, MARK_SENT_LUA, NEXT_SLOT_LUA } from './pacing.lua';
import { quotaKeys } from './quota-keys';

/**
 * How long the in-flight mark of a send lasts when nobody clears it. Long enough for an
 * ordinary send; short, because a worker killed mid-send leaves its mark behind and the server
 * sends nothing until it expires. A send slower than this lets the next one start (its spacing
 * then falls back to start times), which is the lesser harm.
 */
const IN_FLIGHT_TTL_MS = 10_000;
/**
 * How late a send may come back for its place in the waiting line before the place is given up
 * (its job was dropped: a paused campaign, a re-route, a failure). Generous: a busy worker takes a
 * while to pick up a job that is due.
 */
const LINE_GRACE_MS = 60_000;

export interface SlotReply {
  /** Whether the slot is now ours; false when the wait was longer than the caller accepts. */
  taken: boolean;
  /** How long until the slot starts, measured on Redis's clock. */
  waitMs: number;
  /** The place in the waiting line's order the waiter gave up taking it, if it had one. */
  leftOrder?: number;
}

export type AcquireResult =
  /** The slot was ours and its time has come: send now. */
  | { reschedule: false; waitedMs: number }
  /** The next free slot is too far away to wait for in process: run the job again then. */
  | { reschedule: true; notBefore: Date; waitMs: number };

export interface AcquireOptions {
  /** Waits up to this long happen here; longer ones come back as `reschedule`. */
  maxInlineWaitMs: number;
  /** Stops an in-process wait (e.g. on shutdown); the slot taken is then simply left unused. */
  signal?: AbortSignal;
  /**
   * The waiting send (its message id): when it must come back later, it is given a place in the
   * server's waiting line, so waiting sends come back one at a time (see LINE_WAKE_LUA). Without
   * it, the answer is the next free slot, which every waiting send is told alike.
   */
  waiter?: string;
}

/**
 * `pauseMs` per delivery server (CONTRACT.md §4): consecutive sends through one server are at
 * least pauseMs apart across every worker process, on Redis's clock.
 *
 * The worker's part: `acquire` before the send (wait, or re-schedule the job), `markSent` after
 * it (delivered or failed). Three small scripts share two keys per server:
 * - nextSlot hands out start slots pauseMs apart, so waiting workers queue in order;
 * - confirmStart checks the actual start against the previous one (a worker may wake late);
 * - markSent moves the next start to pauseMs after the end of this send, so arrivals at the
 *   provider stay pauseMs apart however long each send takes (a send longer than the pause
 *   overlaps the next one's start, which is still pauseMs after its own start).
 */
@Injectable()
export class PacingService {
  private readonly slotScript = new LuaScript(NEXT_SLOT_LUA);
  private readonly startScript = new LuaScript(CONFIRM_START_LUA);
  private readonly sentScript = new LuaScript(MARK_SENT_LUA);
  private readonly lineScript = new LuaScript(LINE_WAKE_LUA);
  private readonly prefix: string;

  constructor(@Inject(REDIS) private readonly redis: Redis, @Inject(APP_CONFIG) config: Pick<AppConfig, 'redis'>) {
    this.prefix = config.redis.prefix;
  }

  /**
   * Take the next slot of the server if it starts within `maxWaitMs` (default: whatever the
   * wait). The caller must then start its send `waitMs` from now.
   */
  async nextSlot(serverId: string, pauseMs: number, maxWaitMs = Number.POSITIVE_INFINITY, waiter = ''): Promise<SlotReply> {
    if (!Number.isInteger(pauseMs) || pauseMs < 0) throw new RangeError(`pauseMs must be a whole number >= 0, got ${pauseMs}`);
    // No pause: no shared state to coordinate.
    if (pauseMs === 0) return { taken: true, waitMs: 0 };
    const max = Number.isFinite(maxWaitMs) ? Math.max(0, Math.floor(maxWaitMs)) : -1;
    const keys = [quotaKeys.paceSlot(this.prefix, serverId), ...this.lineKeys(serverId).slice(0, 2)];
    const reply = await this.slotScript.run(this.redis, keys, [pauseMs, max, waiter]);
    const [taken, waitMs] = pair(Array.isArray(reply) ? reply.slice(0, 2) : reply);
    const leftOrder = Array.isArray(reply) ? Math.max(0, Number(reply[2] ?? -1)) : 0;
    return { taken: taken === 1, waitMs, ...(leftOrder > 0 ? { leftOrder } : {}) };
  }

  /**
   * Call right before the send starts (acquire does): refused, with the time left, while the
   * previous actual start through this server is less than pauseMs ago.
   */
  async confirmStart(serverId: string, pauseMs: number): Promise<{ started: boolean; waitMs: number }> {
    if (pauseMs <= 0) return { started: true, waitMs: 0 };
    const keys = [quotaKeys.paceStarted(this.prefix, serverId), quotaKeys.paceSlot(this.prefix, serverId), quotaKeys.paceInFlight(this.prefix, serverId)];
    const [started, waitMs] = pair(await this.startScript.run(this.redis, keys, [pauseMs, IN_FLIGHT_TTL_MS]));
    return { started: started === 1, waitMs };
  }

  /**
   * When the waiting send should come back: its place in the server's waiting line
   * (LINE_WAKE_LUA), never sooner than `leastWaitMs`.
   */
  async lineWake(serverId: string, pauseMs: number, waiter: string, leastWaitMs = 0, rejoinAt = 0): Promise<number> {
    const keys = [quotaKeys.paceSlot(this.prefix, serverId), ...this.lineKeys(serverId)];
    return Number(await this.lineScript.run(this.redis, keys, [pauseMs, waiter, LINE_GRACE_MS + pauseMs, Math.max(0, Math.ceil(leastWaitMs)), rejoinAt]));
  }

  /** These sends will not come back for their places in the server's line (paused, re-routed, waiting for quota). */
  async leaveLine(serverId: string, waiters: string[]): Promise<void> {
    const [times, order] = this.lineKeys(serverId);
    for (let i = 0; i < waiters.length; i += 1000) {
      const some = waiters.slice(i, i + 1000);
      await this.redis.multi().zrem(times, ...some).zrem(order, ...some).exec();
    }
  }

  /** leaveLine for several servers' waiters at once (a paused campaign's mail), by server id. */
  async leaveLines(waitersByServer: Map<string, string[]>): Promise<void> {
    for (const [serverId, waiters] of waitersByServer) await this.leaveLine(serverId, waiters);
  }

  /** Nobody waits in the server's line any more (its mail is routed again: the server was paused, deleted or re-pinned). */
  async clearLine(serverId: string): Promise<void> {
    await this.redis.del(...this.lineKeys(serverId));
  }

  private lineKeys(serverId: string): [string, string, string] {
    return [quotaKeys.paceLine(this.prefix, serverId), quotaKeys.paceLineOrder(this.prefix, serverId), quotaKeys.paceLineSeq(this.prefix, serverId)];
  }

  /**
   * Call when the send has finished (delivered or failed): the next send through the server
   * starts pauseMs after now. Without it (a crashed worker) sends are spaced by start times only,
   * and arrivals at the provider can then come closer than pauseMs by the jitter of send times.
   */
  async markSent(serverId: string, pauseMs: number): Promise<void> {
    if (pauseMs <= 0) return;
    const keys = [quotaKeys.paceStarted(this.prefix, serverId), quotaKeys.paceSlot(this.prefix, serverId), quotaKeys.paceInFlight(this.prefix, serverId)];
    await this.sentScript.run(this.redis, keys, [pauseMs]);
  }

  /**
   * For the worker: wait for a slot when it is near, or answer `reschedule` (without taking the
   * slot, so nobody's turn is wasted) when it is further than `maxInlineWaitMs`, so the job
   * frees its concurrency slot instead of sleeping in it. (Only when the confirmed start is
   * pushed back beyond maxInlineWaitMs after the wait, a taken slot goes unused.)
   */
  async acquire(serverId: string, pauseMs: number, options: AcquireOptions): Promise<AcquireResult> {
    const slot = await this.nextSlot(serverId, pauseMs, options.maxInlineWaitMs, options.waiter);
    // The line only spreads the returns: if it cannot be asked (Redis refusing writes), the plain
    // answer (the next free slot) will do.
    const later = async (waitMs: number): Promise<AcquireResult> =>
      reschedule(options.waiter ? await this.lineWake(serverId, pauseMs, options.waiter, waitMs, slot.leftOrder).catch(() => waitMs) : waitMs);
    if (!slot.taken) return later(slot.waitMs);
    // Waits are relative (Redis clock), so this machine's clock skew does not matter.
    let waited = 0;
    let waitMs = slot.waitMs;
    for (;;) {
      if (waitMs > 0) await delay(waitMs, undefined, { signal: options.signal });
      waited += waitMs;
      // Our turn by the schedule; make sure the previous send did not start late.
      const start = await this.confirmStart(serverId, pauseMs);
      if (start.started) return { reschedule: false, waitedMs: waited };
      if (start.waitMs > options.maxInlineWaitMs) return later(start.waitMs);
      waitMs = start.waitMs;
    }
  }
}

function reschedule(waitMs: number): AcquireResult {
  return { reschedule: true, notBefore: new Date(Date.now() + waitMs), waitMs };
}

function pair(reply: unknown): [number, number] {
  if (!Array.isArray(reply) || reply.length !== 2) throw new Error(`Unexpected pacing script reply: ${JSON.stringify(reply)}`);
  return [Number(reply[0]), Number(reply[1])];
}
