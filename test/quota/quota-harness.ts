import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { PacingService } from '../../src/modules/quota/pacing.service';
import { QuotaService } from '../../src/modules/quota/quota.service';
import type { QuotaSubject, ReserveResult } from '../../src/modules/quota/quota.types';
import type { LedgerCount, SendLedger } from '../../src/modules/quota/send-ledger';
import { TEST_REDIS_URL } from '../utils/test-db';

/**
 * Real Redis for one test file: a unique key prefix (other runs share the server, so nothing
 * is ever flushed wholesale), one connection per `client()` (like separate worker processes),
 * and cleanup of the prefix's keys and every connection.
 */
export class RedisHarness {
  readonly prefix = `mrtest:quota:${randomBytes(5).toString('hex')}`;
  private readonly clients: Redis[] = [];

  client(): Redis {
    const client = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    this.clients.push(client);
    return client;
  }

  quota(ledger: SendLedger, client: Redis = this.client()): QuotaService {
    return new QuotaService(client, this.config(), ledger);
  }

  pacing(client: Redis = this.client()): PacingService {
    return new PacingService(client, this.config());
  }

  config(): { redis: { url: string; prefix: string } } {
    return { redis: { url: TEST_REDIS_URL, prefix: this.prefix } };
  }

  /** What losing Redis's data looks like to this test: every key of its prefix gone. */
  async dropAllKeys(): Promise<number> {
    const redis = this.clients[0] ?? this.client();
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${this.prefix}:*`, 'COUNT', 500);
      if (keys.length) deleted += await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    return deleted;
  }

  async close(): Promise<void> {
    await this.dropAllKeys();
    // QUIT answers before the socket is closed; wait for 'end' so jest sees no open handle.
    await Promise.all(
      this.clients.splice(0).map(async (c) => {
        // A client still in its ready check when QUIT goes out leaves a 2 s timer behind.
        await c.ping().catch(() => undefined);
        const ended = new Promise((resolve) => c.once('end', resolve));
        await c.quit();
        await ended;
      }),
    );
  }
}

/** The database's record of sends, in memory: what the messages module will keep in PostgreSQL. */
export class MemoryLedger implements SendLedger {
  readonly sends: { serverId: string; at: number }[] = [];
  queries = 0;

  record(serverId: string, at: Date, count = 1): void {
    for (let i = 0; i < count; i++) this.sends.push({ serverId, at: at.getTime() });
  }

  /** `at`: this ledger has no clock of its own (tests pass their own times); everything before `to` is in. */
  countSends(serverId: string, from: Date, to: Date): Promise<LedgerCount> {
    this.queries++;
    return Promise.resolve({ sends: this.sends.filter((s) => s.serverId === serverId && s.at >= from.getTime() && s.at < to.getTime()).length, at: to });
  }
}

/** What the worker will do: reserve, and on success the send is recorded in the ledger. */
export async function send(quota: QuotaService, ledger: MemoryLedger, subject: QuotaSubject, now: Date): Promise<ReserveResult> {
  const result = await quota.reserve(subject, now);
  if (result.ok) ledger.record(subject.serverId, now);
  return result;
}

/**
 * A fixed instant for a test: tomorrow at 12:20 UTC. Fixed, so no test straddles a window
 * boundary; in the future, so counters (which expire a while after their window) live on.
 */
export function tomorrowAt(hour = 12, minute = 20): Date {
  const d = new Date(Date.now() + 86_400_000);
  d.setUTCHours(hour, minute, 0, 0);
  return d;
}

export const serverIds = (() => {
  let n = 0;
  return (): string => `srv-${randomBytes(3).toString('hex')}-${++n}`;
})();
