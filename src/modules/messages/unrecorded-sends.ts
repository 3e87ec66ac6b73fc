import { Inject, Injectable, Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import { REDIS } from '../../infra/redis/redis.module';
import { DispatchQueue } from './dispatch-queue';

/** A guard key lives this long without renewal: a worker that died leaves its messages to the sweeper soon after. */
const GUARD_TTL_MS = 30_000;
/** A guard that could not be written is tried again this soon (the sweeper counts a failed lock check as held meanwhile). */
const GUARD_RETRY_MS = 1_000;

/**
 * Sends the provider accepted whose SENT record is still being written. A job ends as soon as
 * its send is accepted: its slot goes to the next message at once while SENT records are
 * group-committed in the background (bench/dispatch, docs/performance.md). The job's lock then no
 * longer says "this message is in hand", so a record that is late (the database away, say) gets a
 * key of its own, which the sweeper honours exactly like a job's lock: a message SENDING past
 * STUCK_SENDING_MS is taken back only when neither exists. The keys are written with the shared
 * Redis client, which outlives the queue's at shutdown, so they hold while shutdown waits.
 *
 * A job that finds WORKER_CONCURRENCY records waiting waits for its own, so a worker holds at
 * most twice WORKER_CONCURRENCY messages in flight (sends in progress and records waiting). A
 * process that dies with records unwritten leaves those messages SENDING: they are among the
 * sends in flight, the one window for a duplicate (README, "Nothing lost, nothing doubled").
 */
@Injectable()
export class UnrecordedSends {
  private readonly logger = new Logger(UnrecordedSends.name);
  private readonly pending = new Set<Promise<void>>();
  private readonly limit: number;
  private readonly stuckSendingMs: number;

  constructor(
    private readonly queue: DispatchQueue,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.limit = config.workerConcurrency;
    this.stuckSendingMs = config.dispatch.stuckSendingMs;
  }

  /** Records waiting to be written. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Follows `recorded` (the SENT record of job `jobId`, claimed at `claimedAt`) until it settles.
   * Resolves while the job still holds its lock: at once, or once the record is written when too
   * many are waiting or when the record needs a guard that could not be written. Failures of
   * `recorded` are its writer's to report.
   */
  async track(jobId: string, claimedAt: number, recorded: Promise<void>): Promise<void> {
    const settled = recorded.catch(() => undefined);
    const guard = new RecordGuard(this.redis, this.queue.recordGuardKey(jobId), this.logger);
    const entry = settled.then(() => guard.release());
    this.pending.add(entry);
    void entry.finally(() => this.pending.delete(entry));
    // The sweeper may take a message back once it is SENDING for STUCK_SENDING_MS: a record not
    // written by half that time is guarded from then on. A send that took that long already is
    // guarded before its job lets go of the lock, and if that fails the job keeps the lock
    // (waits for the record), so there is no moment without either.
    const guardInMs = claimedAt + this.stuckSendingMs / 2 - Date.now();
    if (guardInMs > 0) guard.holdIn(guardInMs);
    else if (!(await guard.hold())) return entry;
    if (this.pending.size > this.limit) await entry;
  }

  /** Waits until every record followed so far (and any added meanwhile) is written or has given up. */
  async drain(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }
}

/** The guard key of one job's late record: set (and renewed) while it is late, removed once it is written. */
class RecordGuard {
  private timer?: NodeJS.Timeout;
  private held = false;
  private released = false;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly logger: Logger,
  ) {}

  holdIn(ms: number): void {
    this.timer = setTimeout(() => void this.hold(), ms);
    this.timer.unref();
  }

  /**
   * Writes the key and keeps rewriting it (SET, not PEXPIRE, so a key lost with Redis comes back)
   * until release; answers whether this first write succeeded.
   */
  async hold(): Promise<boolean> {
    if (this.released) return true;
    this.held = true;
    let ok: boolean;
    try {
      await this.redis.set(this.key, '1', 'PX', GUARD_TTL_MS);
      ok = true;
    } catch (err) {
      this.logger.warn(`Could not guard the late SENT record of ${this.key}: ${err instanceof Error ? err.message : 'error'}`);
      ok = false;
    }
    if (!this.released) {
      this.timer = setTimeout(() => void this.hold(), ok ? GUARD_TTL_MS / 3 : GUARD_RETRY_MS);
      this.timer.unref();
    }
    return ok;
  }

  async release(): Promise<void> {
    this.released = true;
    clearTimeout(this.timer);
    if (this.held) await this.redis.del(this.key).catch(() => undefined);
  }
}
