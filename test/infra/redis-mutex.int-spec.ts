import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { RedisMutexTimeout, withRedisMutex } from '../../src/infra/redis/redis-mutex';
import { TEST_REDIS_URL } from '../utils/test-db';

/** The cross-process lock webhook registration runs under, against the real Redis. */
describe('withRedisMutex', () => {
  const redis = new Redis(TEST_REDIS_URL);
  const key = () => `mailroute-test:mutex:${randomUUID()}`;
  afterAll(async () => {
    await redis.quit();
  });

  /** A function that records when it ran and returns once `release` is called. */
  const holder = (log: string[], name: string) => {
    let release!: () => void;
    const done = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const fn = async () => {
      log.push(`${name} start`);
      started();
      await done;
      log.push(`${name} end`);
      return name;
    };
    return { fn, running, release };
  };

  it('runs holders of one key one after the other, and of different keys at once', async () => {
    const log: string[] = [];
    const k = key();
    const a = holder(log, 'a');
    const b = holder(log, 'b');
    const c = holder(log, 'c');
    const options = { ttlMs: 10_000, waitMs: 5_000, pollMs: 10 };
    const ra = withRedisMutex(redis, k, options, a.fn);
    await a.running;
    const rb = withRedisMutex(redis, k, options, b.fn);
    const rc = withRedisMutex(redis, key(), options, c.fn);
    await c.running; // another key: not held up by a
    expect(log).toEqual(['a start', 'c start']);
    a.release();
    await b.running;
    b.release();
    c.release();
    expect(await Promise.all([ra, rb, rc])).toEqual(['a', 'b', 'c']);
    expect(log.indexOf('a end')).toBeLessThan(log.indexOf('b start'));
    expect(await redis.exists(k)).toBe(0);
  });

  it('gives up after waitMs with RedisMutexTimeout, and a lapsed lock (a crashed holder) is taken over', async () => {
    const k = key();
    // Held far longer than the wait (and than any stall between these lines): the wait, not the lock, ends first.
    await redis.set(k, 'someone else', 'PX', 10_000);
    await expect(withRedisMutex(redis, k, { ttlMs: 1_000, waitMs: 50, pollMs: 10 }, async () => 'ran')).rejects.toBeInstanceOf(RedisMutexTimeout);
    expect(await redis.get(k)).toBe('someone else');
    // The holder crashed: its lock lapses soon, and a waiter takes it over.
    expect(await redis.pexpire(k, 200)).toBe(1);
    expect(await withRedisMutex(redis, k, { ttlMs: 1_000, waitMs: 10_000, pollMs: 20 }, async () => redis.get(k))).not.toBe('someone else');
  });

  it('keeps the lock while its holder runs longer than the TTL', async () => {
    const k = key();
    const ttlMs = 3_000;
    let renewals = 0;
    await withRedisMutex(redis, k, { ttlMs, waitMs: 1_000, pollMs: 10 }, async () => {
      // More than two TTLs long: the lock is extended meanwhile (every ttlMs / 3), so no one else can take it.
      const until = Date.now() + 7_000;
      let ttlLeft = await redis.pttl(k);
      while (Date.now() < until) {
        expect(await redis.set(k, 'intruder', 'PX', 5_000, 'NX')).toBeNull();
        const now = await redis.pttl(k);
        if (now > ttlLeft) renewals++;
        ttlLeft = now;
        await new Promise((r) => setTimeout(r, 50));
      }
    });
    // Kept by renewals (a 3 s TTL outlives 7 s only if renewed at least twice), not by one long TTL.
    expect(renewals).toBeGreaterThanOrEqual(2);
    expect(await redis.exists(k)).toBe(0);
  });

  it('does not release a lock another holder took over after its own lapsed', async () => {
    const k = key();
    await withRedisMutex(redis, k, { ttlMs: 60, waitMs: 1_000, pollMs: 10 }, async () => {
      // The holder is cut off from its lock (as if Redis had lost it); another takes the key.
      await redis.del(k);
      expect(await redis.set(k, 'next holder', 'PX', 5_000, 'NX')).toBe('OK');
    });
    expect(await redis.get(k)).toBe('next holder');
    await redis.del(k);
  });
});
