import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import { DispatchQueue } from './dispatch-queue';

/** A guard key lives this long without renewal: a worker that died leaves its messages to the sweeper soon after. */
const GUARD_TTL_MS = 30_000;

/**
 * Sends the provider accepted whose SENT record is still being written. A job ends as soon as
 * its send is accepted: its slot goes to the next message at once while SENT records are
 * group-committed in the background (bench/dispatch, docs/performance.md). The job's lock then no
 * longer says "this message is in hand", so a record that is late (the database away, say) gets a
 * key of its own, which the sweeper honours exactly like a job's lock: a message SENDING past
 * STUCK_SENDING_MS is taken back only when neither exists.
 *
 * At most WORKER_CONCURRENCY records wait at once; a job finding that many waits for its own.
 * A process that dies with records unwritten leaves those messages SENDING: they are among the
 * sends in flight, the one window for a duplicate (README, "Nothing lost, nothing doubled"). Shutdown waits for them.
 */
@Injectable()
export class UnrecordedSends {
  private readonly logger = new Logger(UnrecordedSends.name);
  private readonly pending = new Set<Promise<void>>();
  private readonly limit: number;
  private readonly stuckSendingMs: number;

  constructor(
    private readonly queue: DispatchQueue,
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
   * many are waiting. Failures of `recorded` are its writer's to report.
   */
  async track(jobId: string, claimedAt: number, recorded: Promise<void>): Promise<void> {
    const settled = recorded.catch(() => undefined);
    // The sweeper may take a message back once it is SENDING for STUCK_SENDING_MS: a record not
    // written by half that time is guarded from then on. A send that took that long already is
    // guarded before its job lets go of the lock, so there is no moment without either.
    const guardInMs = claimedAt + this.stuckSendingMs / 2 - Date.now();
    const guard = new RecordGuard(this.queue, jobId, this.logger);
    if (guardInMs <= 0) await guard.hold();
    else guard.holdIn(guardInMs);
    const entry = settled.then(() => guard.release());
    this.pending.add(entry);
    void entry.finally(() => this.pending.delete(entry));
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
  private renewal?: NodeJS.Timeout;
  private held = false;
  private released = false;
  private readonly key: string;

  constructor(
    private readonly queue: DispatchQueue,
    jobId: string,
    private readonly logger: Logger,
  ) {
    this.key = queue.recordGuardKey(jobId);
  }

  holdIn(ms: number): void {
    this.timer = setTimeout(() => void this.hold(), ms);
    this.timer.unref();
  }

  async hold(): Promise<void> {
    if (this.released) return;
    this.held = true;
    const redis = this.queue.queue.client;
    this.renewal = setInterval(() => void redis.pexpire(this.key, GUARD_TTL_MS).catch(() => undefined), GUARD_TTL_MS / 3);
    this.renewal.unref();
    try {
      await redis.set(this.key, '1', 'PX', GUARD_TTL_MS);
    } catch (err) {
      // The sweeper counts a lock check that fails as held, so Redis being away is safe too.
      this.logger.warn(`Could not guard the late SENT record of job ${this.key}: ${err instanceof Error ? err.message : 'error'}`);
    }
  }

  async release(): Promise<void> {
    this.released = true;
    clearTimeout(this.timer);
    clearInterval(this.renewal);
    if (this.held) await this.queue.queue.client.del(this.key).catch(() => undefined);
  }
}
