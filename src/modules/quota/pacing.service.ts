import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { setTimeout as delay } from 'node:timers/promises';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import { REDIS } from '../../infra/redis/redis.module';
import { LuaScript } from './lua-script';
import { NEXT_SLOT_LUA } from './pacing.lua';
import { quotaKeys } from './quota-keys';

export interface SlotReply {
  /** Whether the slot is now ours; false when the wait was longer than the caller accepts. */
  taken: boolean;
  /** How long until the slot starts, measured on Redis's clock. */
  waitMs: number;
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
}

/**
 * `pauseMs` per delivery server (CONTRACT.md §4): consecutive sends through one server start at
 * least pauseMs apart across every worker process, through a next-slot time kept in Redis.
 */
@Injectable()
export class PacingService {
  private readonly script = new LuaScript(NEXT_SLOT_LUA);
  private readonly prefix: string;

  constructor(@Inject(REDIS) private readonly redis: Redis, @Inject(APP_CONFIG) config: Pick<AppConfig, 'redis'>) {
    this.prefix = config.redis.prefix;
  }

  /**
   * Take the next slot of the server if it starts within `maxWaitMs` (default: whatever the
   * wait). The caller must then start its send `waitMs` from now.
   */
  async nextSlot(serverId: string, pauseMs: number, maxWaitMs = Number.POSITIVE_INFINITY): Promise<SlotReply> {
    if (!Number.isInteger(pauseMs) || pauseMs < 0) throw new RangeError(`pauseMs must be a whole number >= 0, got ${pauseMs}`);
    // No pause: no shared state to coordinate.
    if (pauseMs === 0) return { taken: true, waitMs: 0 };
    const max = Number.isFinite(maxWaitMs) ? Math.max(0, Math.floor(maxWaitMs)) : -1;
    const reply = await this.script.run(this.redis, [quotaKeys.paceSlot(this.prefix, serverId)], [pauseMs, max]);
    if (!Array.isArray(reply) || reply.length !== 2) throw new Error(`Unexpected pacing script reply: ${JSON.stringify(reply)}`);
    return { taken: Number(reply[0]) === 1, waitMs: Number(reply[1]) };
  }

  /**
   * For the worker: wait for a slot when it is near, or answer `reschedule` (without taking the
   * slot, so nobody's turn is wasted) when it is further than `maxInlineWaitMs`, so the job
   * frees its concurrency slot instead of sleeping in it.
   */
  async acquire(serverId: string, pauseMs: number, options: AcquireOptions): Promise<AcquireResult> {
    const { taken, waitMs } = await this.nextSlot(serverId, pauseMs, options.maxInlineWaitMs);
    if (!taken) return { reschedule: true, notBefore: new Date(Date.now() + waitMs), waitMs };
    // The wait is relative (Redis clock), so this machine's clock skew does not matter.
    if (waitMs > 0) await delay(waitMs, undefined, { signal: options.signal });
    return { reschedule: false, waitedMs: waitMs };
  }
}
