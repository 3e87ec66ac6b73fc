import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import { DispatchQueue, jobIdOf } from './dispatch-queue';

/** Pending rows looked at per sweep; a larger backlog is gone through over the next sweeps. */
const SWEEP_BATCH = 5_000;

const GAVE_UP = 'its worker stopped while sending it on every attempt; not tried again';

interface PendingRow {
  id: string;
  dispatch_seq: number;
  next_attempt_at: Date | null;
}

/**
 * Nothing accepted is lost: re-adds the job of every pending message (QUEUED or DEFERRED) whose
 * job is missing — after a Redis restart that lost the queue, or a crash between commit and
 * enqueue — once it is overdue by a sweep interval, under a new seq (`reschedule`). A backlog
 * still holds its jobs, so only missing ones are re-added. Messages of paused campaigns wait for
 * resume.
 *
 * A message SENDING for longer than STUCK_SENDING_MS whose job holds no lock in Redis (nor the
 * guard of a late SENT record, UnrecordedSends) lost its worker (killed mid-send, or its Redis
 * data lost): it is queued again under a new seq, so its old job, if Bull ever redelivers it,
 * finds a newer seq and does nothing. A live worker renews its job's lock, and its late records'
 * guards, so a slow send or a slow record is never taken from it however short the threshold.
 */
@Injectable()
export class Sweeper {
  /** Overdue messages looked at per sweep (tests use a small page). */
  pageSize = SWEEP_BATCH;
  /** Where the last sweep's page of overdue messages ended (null: start from the oldest). */
  private cursor: { due: string; id: string } | null = null;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly queue: DispatchQueue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Returns how many messages it (re-)added jobs for. */
  async sweep(): Promise<number> {
    const overdueSecs = this.config.dispatch.sweepIntervalMs / 1000;
    // Only messages overdue by a sweep interval can have lost their job: one queued a moment ago
    // got it right after its commit, and one waiting for a later time is not due yet.
    // A page at a time, on from where the last sweep stopped: a backlog larger than a page whose
    // jobs are all in place must not keep a newer message with a lost job from being looked at.
    const after = this.cursor;
    const overdue = (await this.dataSource.query(
      `SELECT m.id, m.dispatch_seq, m.next_attempt_at, COALESCE(m.next_attempt_at, m.updated_at)::text AS due
         FROM messages m
         LEFT JOIN campaigns c ON c.id = m.campaign_id
        WHERE m.status IN ('QUEUED', 'DEFERRED')
          AND COALESCE(m.next_attempt_at, m.updated_at) < now() - make_interval(secs => $2)
          AND (c.id IS NULL OR c.status = 'SENDING')
          AND ($3::timestamptz IS NULL OR (COALESCE(m.next_attempt_at, m.updated_at), m.id) > ($3::timestamptz, $4::uuid))
        ORDER BY COALESCE(m.next_attempt_at, m.updated_at), m.id
        LIMIT $1`,
      [this.pageSize, overdueSecs, after?.due ?? null, after?.id ?? null],
    )) as (PendingRow & { due: string })[];
    // A short page ends the pass: the next sweep starts from the oldest again.
    const last = overdue[overdue.length - 1];
    this.cursor = overdue.length < this.pageSize ? null : { due: last.due, id: last.id };
    // Of those, a long backlog still holds its jobs: re-add only the missing ones.
    const existing = await this.existingJobs(overdue.map((r) => jobIdOf(r.id, r.dispatch_seq)));
    const missing = await this.reschedule(overdue.filter((r) => !existing.has(jobIdOf(r.id, r.dispatch_seq))));
    const stuck = await this.requeueStuck();
    await this.queue.add([...missing, ...stuck].map((r) => ({ messageId: r.id, seq: r.dispatch_seq, notBefore: r.next_attempt_at })));
    return missing.length + stuck.length;
  }

  /**
   * Moves each message whose job is missing to a new seq, if it is still pending under the seq
   * the sweep read: between that read and the check in Redis a worker may have claimed it, sent
   * it and ended its job (the job is gone, the SENT record not yet written). Re-adding that job
   * under the old seq would let a worker claim the SENDING message again and send it twice; the
   * UPDATE leaves such a message alone, and a job of the old seq that does turn up finds the newer
   * seq and does nothing.
   */
  private async reschedule(missing: PendingRow[]): Promise<PendingRow[]> {
    if (!missing.length) return [];
    return (await this.dataSource.query(
      `WITH moved AS (
         UPDATE messages m SET dispatch_seq = m.dispatch_seq + 1
           FROM unnest($1::uuid[], $2::int[]) AS o(id, seq)
          WHERE m.id = o.id AND m.dispatch_seq = o.seq AND m.status IN ('QUEUED', 'DEFERRED')
          RETURNING m.id, m.dispatch_seq, m.next_attempt_at)
       SELECT * FROM moved`,
      [missing.map((r) => r.id), missing.map((r) => r.dispatch_seq)],
    )) as PendingRow[];
  }

  /**
   * The job ids among these that Bull still holds (waiting, delayed or active): one pipelined
   * round trip. A failed check counts as held: re-adding moves the message to a new seq, which
   * would void a job that is in fact still there (a Redis answering LOADING after a restart).
   */
  private async existingJobs(jobIds: string[]): Promise<Set<string>> {
    return this.jobsWith(jobIds, (jobId) => [this.queue.queue.toKey(jobId)], true);
  }

  /**
   * SENDING past the threshold and no lock on the job of its current seq: back to QUEUED under a
   * new seq, with a QUEUED event. The UPDATE re-checks seq, status and age, so a worker that
   * claimed the message between the lock check and the UPDATE (its claim moves updated_at and
   * keeps the seq) keeps it, and a claim that comes after the UPDATE finds the new seq and stops.
   */
  private async requeueStuck(): Promise<PendingRow[]> {
    const stuckSecs = this.config.dispatch.stuckSendingMs / 1000;
    const candidates = (await this.dataSource.query(
      `SELECT m.id, m.dispatch_seq
         FROM messages m
         LEFT JOIN campaigns c ON c.id = m.campaign_id
        WHERE m.status = 'SENDING' AND m.updated_at < now() - make_interval(secs => $2)
          AND (c.id IS NULL OR c.status = 'SENDING')
        ORDER BY m.updated_at
        LIMIT $1`,
      [SWEEP_BATCH, stuckSecs],
    )) as { id: string; dispatch_seq: number }[];
    if (!candidates.length) return [];
    const locked = await this.lockedJobs(candidates.map((c) => jobIdOf(c.id, c.dispatch_seq)));
    const orphans = candidates.filter((c) => !locked.has(jobIdOf(c.id, c.dispatch_seq)));
    if (!orphans.length) return [];
    // The lost send counts as an attempt: a message that kills its worker every time (or whose
    // worker keeps dying) ends FAILED after MAX_SEND_ATTEMPTS instead of going round for ever.
    // A WITH … SELECT answers its rows (not the [rows, count] pair of a bare UPDATE).
    const rows = (await this.dataSource.query(
      `WITH requeued AS (
         UPDATE messages m
            SET status = CASE WHEN m.attempts + 1 >= $4 THEN 'FAILED'::message_status ELSE 'QUEUED'::message_status END,
                attempts = m.attempts + 1, dispatch_seq = m.dispatch_seq + 1, next_attempt_at = NULL, updated_at = now(),
                error = CASE WHEN m.attempts + 1 >= $4
                             THEN jsonb_build_object('code', 'PROVIDER_ERROR', 'message', $5::text, 'transport', NULL, 'smtpResponseCode', NULL, 'providerStatus', NULL, 'step', NULL)
                             ELSE m.error END
           FROM unnest($1::uuid[], $2::int[]) AS o(id, seq)
          WHERE m.id = o.id AND m.dispatch_seq = o.seq AND m.status = 'SENDING'
            AND m.updated_at < now() - make_interval(secs => $3)
          RETURNING m.id, m.dispatch_seq, m.server_id, m.status)
       , events AS (
         INSERT INTO message_events (message_id, type, detail, server_id)
         SELECT id, CASE WHEN status = 'FAILED' THEN 'FAILED'::message_event_type ELSE 'QUEUED'::message_event_type END,
                CASE WHEN status = 'FAILED' THEN $5 ELSE 'queued again: its worker stopped while sending (the send may have reached the provider)' END,
                server_id
           FROM requeued)
       SELECT id, dispatch_seq, NULL::timestamptz AS next_attempt_at, status FROM requeued`,
      [orphans.map((o) => o.id), orphans.map((o) => o.dispatch_seq), stuckSecs, this.config.dispatch.maxAttempts, GAVE_UP],
    )) as (PendingRow & { status: string })[];
    return rows.filter((r) => r.status === 'QUEUED');
  }

  /**
   * The job ids among these a live worker still has in hand: its Bull lock is held (processing),
   * or the guard of its late SENT record (the job ended, the record is not written yet). One
   * pipelined round trip.
   */
  private async lockedJobs(jobIds: string[]): Promise<Set<string>> {
    // A failed check counts as locked: when in doubt, leave the message with its worker.
    return this.jobsWith(jobIds, (jobId) => [`${this.queue.queue.toKey(jobId)}:lock`, this.queue.recordGuardKey(jobId)], true);
  }

  /** The job ids with any of their keys present, by pipelined EXISTS; `onError` says what a failed check counts as. */
  private async jobsWith(jobIds: string[], keysOf: (jobId: string) => string[], onError: boolean): Promise<Set<string>> {
    const found = new Set<string>();
    if (!jobIds.length) return found;
    const pipeline = this.queue.queue.client.pipeline();
    for (const jobId of jobIds) pipeline.exists(...keysOf(jobId));
    const replies = (await pipeline.exec()) ?? [];
    replies.forEach(([err, exists], i) => {
      if (err ? onError : Number(exists) > 0) found.add(jobIds[i]);
    });
    return found;
  }
}
