import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type Redis from 'ioredis';

export interface RedisMutexOptions {
  /** How long a holder keeps the lock at most: a crashed holder's lock lapses after it. */
  ttlMs: number;
  /** How long to wait for the lock before giving up (the error says so). */
  waitMs: number;
  pollMs?: number;
  /** Told when a renewal finds the lock no longer this holder's (it lapsed, or Redis lost it). */
  onLost?: () => void;
}

/** Deletes the key only while it holds this holder's token: a lapsed lock taken over by another is left to it. */
export const RELEASE_IF_HELD = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
/** Extends the key's life only while it holds this holder's token. */
const EXTEND = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

export class RedisMutexTimeout extends Error {
  constructor(readonly key: string) {
    super(`Timed out waiting for the lock ${key}`);
  }
}

/** Redis did not answer the first try for the lock: whether anyone holds it is unknown. */
export class RedisMutexUnavailable extends Error {
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`Could not ask Redis for the lock ${key}: ${reason}`);
  }
}

/**
 * Runs `fn` while holding `key`, one holder at a time across every process on this Redis (SET NX
 * PX with a random token, released by compare-and-delete). While `fn` runs the lock is extended
 * every third of `ttlMs`, so it lapses only for a holder that stopped (crashed, or cut off from
 * Redis for a whole `ttlMs`).
 */
export async function withRedisMutex<T>(redis: Redis, key: string, options: RedisMutexOptions, fn: () => Promise<T>): Promise<T> {
  const token = randomUUID();
  const deadline = Date.now() + options.waitMs;
  for (let tries = 0; ; tries++) {
    let taken: boolean;
    try {
      // A try whose answer was lost (ioredis sends it again after reconnecting) may have taken it.
      taken = (await redis.set(key, token, 'PX', options.ttlMs, 'NX')) === 'OK' || (await redis.get(key)) === token;
    } catch (err) {
      // Only a first try that fails says nothing of a holder; once Redis has answered that the
      // lock is held, a failed poll is one more wait.
      if (tries === 0) {
        await redis.eval(RELEASE_IF_HELD, 1, key, token).catch(() => undefined); // in case it was applied
        throw new RedisMutexUnavailable(key, err instanceof Error ? err.message : 'error');
      }
      taken = false;
    }
    if (taken) break;
    if (Date.now() >= deadline) throw new RedisMutexTimeout(key);
    await delay(options.pollMs ?? 100);
  }
  let lost = false;
  const renew = setInterval(() => {
    redis
      .eval(EXTEND, 1, key, token, options.ttlMs)
      .then((extended) => {
        if (extended === 0 && !lost) {
          lost = true;
          options.onLost?.();
        }
      })
      .catch(() => undefined); // the next renewal tries again; the TTL leaves room for two misses
  }, Math.max(1, Math.floor(options.ttlMs / 3)));
  try {
    return await fn();
  } finally {
    clearInterval(renew);
    await redis.eval(RELEASE_IF_HELD, 1, key, token).catch(() => undefined); // it lapses by itself anyway
  }
}
