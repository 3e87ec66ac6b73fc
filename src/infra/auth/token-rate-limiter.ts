import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { createHash } from 'node:crypto';
import { DomainError, ErrorCode } from '../errors/domain-error';

const WINDOW_MS = 60_000;
/** While Redis is away every request would warn; once a window is enough. */
const WARN_EVERY_MS = WINDOW_MS;

export class RateLimitedError extends DomainError {
  constructor(
    limit: number,
    readonly retryAfterSeconds: number,
  ) {
    super(ErrorCode.RATE_LIMITED, `Too many GraphQL requests with this token: at most ${limit} a minute; try again in ${retryAfterSeconds} s`, {
      retryAfterSeconds,
    });
  }
}

/**
 * GraphQL requests per bearer token per minute, counted in Redis so the limit holds across API
 * processes: a fixed window that starts with the token's first request, one round trip
 * (INCR, PEXPIRE NX, PTTL in one MULTI). The key holds a hash of the token, never the token.
 * When Redis does not answer, requests are let through (and that is logged): the limit guards
 * against abuse, it must not take the API down with Redis.
 */
export class TokenRateLimiter {
  private readonly logger = new Logger(TokenRateLimiter.name);
  private lastWarnAt = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly perMinute: number,
  ) {}

  /** Counts one request of the token; throws RateLimitedError beyond the limit. */
  async take(token: string): Promise<void> {
    const key = `${this.keyPrefix}:gql-rate:${createHash('sha256').update(token).digest('hex')}`;
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await this.redis.multi().incr(key).pexpire(key, WINDOW_MS, 'NX').pttl(key).exec();
    } catch (err) {
      this.warn(err);
      return;
    }
    const count = replies?.[0]?.[1];
    const ttlMs = replies?.[2]?.[1];
    if (typeof count !== 'number' || typeof ttlMs !== 'number') {
      this.warn(replies?.find(([e]) => e)?.[0] ?? new Error('the transaction was aborted'));
      return;
    }
    if (count > this.perMinute) throw new RateLimitedError(this.perMinute, Math.max(1, Math.ceil(ttlMs / 1000)));
  }

  private warn(err: unknown): void {
    const now = Date.now();
    if (now - this.lastWarnAt < WARN_EVERY_MS) return;
    this.lastWarnAt = now;
    this.logger.warn(`GraphQL rate limit not applied: Redis did not answer (${err instanceof Error ? err.message : String(err)})`);
  }
}
