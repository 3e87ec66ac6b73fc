import { InjectQueue } from '@nestjs/bull';
import { Injectable } from '@nestjs/common';
import type { JobOptions, Queue } from 'bull';

export const DISPATCH_QUEUE = 'dispatch';

/** One job per scheduled attempt of a message; the message row holds everything else. */
export interface DispatchJob {
  messageId: string;
  seq: number;
  /**
   * Routed again because its server was paused or deleted: it shares routing lookups only with
   * the jobs of that same re-route, all made after the change (never an answer held from before).
   */
  rerouteId?: string;
}

/**
 * Job ids are `${messageId}:${dispatchSeq}`: Bull refuses a second job with an id it holds, so
 * the sweeper can re-add everything pending without ever doubling a job, and a job left from
 * an older schedule finds a newer seq on the row and does nothing.
 */
export const jobIdOf = (messageId: string, seq: number): string => `${messageId}:${seq}`;

/**
 * No Bull retries (the worker schedules its own, with the message row as the record) and no job
 * `timeout` (Bull would not cancel a send in progress, and a retry could overlap it).
 */
const JOB_OPTIONS: JobOptions = { attempts: 1, removeOnComplete: true, removeOnFail: true };

@Injectable()
export class DispatchQueue {
  constructor(@InjectQueue(DISPATCH_QUEUE) readonly queue: Queue<DispatchJob>) {}

  /** Held while a job's SENT record is late after the job ended (UnrecordedSends); the sweeper honours it like the job's lock. */
  recordGuardKey(jobId: string): string {
    return `${this.queue.toKey(jobId)}:recording`;
  }

  async add(items: { messageId: string; seq: number; notBefore?: Date | null; rerouteId?: string }[]): Promise<void> {
    const now = Date.now();
    for (let i = 0; i < items.length; i += 1000) {
      await this.queue.addBulk(
        items.slice(i, i + 1000).map((item) => ({
          data: { messageId: item.messageId, seq: item.seq, ...(item.rerouteId ? { rerouteId: item.rerouteId } : {}) },
          opts: { ...JOB_OPTIONS, jobId: jobIdOf(item.messageId, item.seq), delay: item.notBefore ? Math.max(0, item.notBefore.getTime() - now) : 0 },
        })),
      );
    }
  }
}
