import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { DispatchQueue } from './dispatch-queue';

/** Pending rows handled per sweep; a larger backlog is finished over the next sweeps. */
const SWEEP_BATCH = 5_000;
/** A message in SENDING this long has outlived any send (Bull's lock included): its worker died. */
const STUCK_SENDING_MS = 5 * 60_000;

/**
 * Nothing accepted is lost: re-adds the job of every pending message (QUEUED, DEFERRED, or stuck
 * in SENDING) whose job is missing — after a Redis restart that lost the queue, or a crash
 * between commit and enqueue. Job ids are deterministic, so a job that still exists is not
 * doubled. Messages of paused campaigns wait for resume.
 */
@Injectable()
export class Sweeper {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly queue: DispatchQueue,
  ) {}

  async sweep(): Promise<number> {
    const rows = (await this.dataSource.query(
      `SELECT m.id, m.dispatch_seq, m.next_attempt_at
         FROM messages m
         LEFT JOIN campaigns c ON c.id = m.campaign_id
        WHERE (m.status IN ('QUEUED', 'DEFERRED') OR (m.status = 'SENDING' AND m.updated_at < now() - make_interval(secs => $2)))
          AND (c.id IS NULL OR c.status = 'SENDING')
        ORDER BY m.next_attempt_at NULLS FIRST
        LIMIT $1`,
      [SWEEP_BATCH, STUCK_SENDING_MS / 1000],
    )) as { id: string; dispatch_seq: number; next_attempt_at: Date | null }[];
    await this.queue.add(rows.map((r) => ({ messageId: r.id, seq: r.dispatch_seq, notBefore: r.next_attempt_at })));
    return rows.length;
  }
}
