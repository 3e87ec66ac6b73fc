/**
 * One "worker machine" for pacing.int-spec.ts, in its own process (own event loop, Redis
 * connection and SMTP pool), as ROLE=worker processes run side by side in production.
 */
import Redis from 'ioredis';
import { PacingService } from '../../src/modules/quota/pacing.service';
import { SmtpSecurity } from '../../src/providers/provider.enums';
import type { OutgoingMessage, SmtpCredentials } from '../../src/providers/provider.types';
import { SmtpTransport } from '../../src/providers/smtp/smtp-transport';
import { serveRpc } from './child-rpc';

export interface PacingJob {
  worker: number;
  serverId: string;
  redisUrl: string;
  prefix: string;
  smtpPort: number;
  pauseMs: number;
  count: number;
  warmUps: number;
}

let job: PacingJob;
let redis: Redis | undefined;
let transport: SmtpTransport | undefined;

const creds = (): SmtpCredentials => ({ host: '127.0.0.1', port: job.smtpPort, security: SmtpSecurity.NONE });
const message = (subject: string): OutgoingMessage => ({ from: 'news@shop.example', to: `w${job.worker}@x.example`, subject, text: 'paced' });

serveRpc(
  {
    /** Connect to Redis and open the pooled SMTP connection, so setup does not skew the gaps. */
    prepare: async (arg) => {
      job = arg as PacingJob;
      redis = new Redis(job.redisUrl, { maxRetriesPerRequest: 1 });
      transport = new SmtpTransport({ allowPrivate: true, httpTimeoutMs: 2_000, smtpConnectionTimeoutMs: 2_000, smtpGreetingTimeoutMs: 2_000, smtpSocketTimeoutMs: 4_000 });
      await redis.ping();
      for (let i = 0; i < job.warmUps; i++) await transport.send(job.serverId, creds(), message('warm-up'));
      return null;
    },
    /** Send `count` messages, each after acquiring a pause slot, as the worker will. */
    run: async () => {
      if (!redis || !transport) throw new Error('prepare first');
      const pacing = new PacingService(redis, { redis: { url: job.redisUrl, prefix: job.prefix } });
      for (let i = 0; i < job.count; i++) {
        // Every wait here is a few pauses at most: always in process.
        const slot = await pacing.acquire(job.serverId, job.pauseMs, { maxInlineWaitMs: 10_000 });
        if (slot.reschedule) throw new Error(`unexpected reschedule: ${slot.waitMs} ms`);
        await transport.send(job.serverId, creds(), message(`w${job.worker} #${i}`));
        await pacing.markSent(job.serverId, job.pauseMs);
      }
      return null;
    },
  },
  async () => {
    await transport?.closeAll();
    await redis?.quit();
  },
);
