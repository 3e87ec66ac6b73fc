import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { createHash } from 'node:crypto';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import { REDIS } from '../../infra/redis/redis.module';

/**
 * Mailgun's freshness window (the adapter accepts a timestamp up to ten minutes either side
 * of now). A token is remembered until its timestamp leaves that window, after which the
 * adapter refuses it anyway.
 */
export const MAILGUN_FRESHNESS_MS = 10 * 60_000;

/**
 * Remembers Mailgun webhook tokens: its HMAC covers only timestamp + token, so the same signed
 * post could be sent again within the window. SET NX makes the first use win across processes.
 */
@Injectable()
export class WebhookReplayGuard {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** true when this token is seen for the first time (and is now remembered). */
  async claim(token: string, timestampSeconds: number, now = Date.now()): Promise<boolean> {
    const ttlMs = Math.min(2 * MAILGUN_FRESHNESS_MS, Math.max(1_000, timestampSeconds * 1000 + MAILGUN_FRESHNESS_MS - now));
    const set = await this.redis.set(this.key(token), '1', 'PX', ttlMs, 'NX');
    return set === 'OK';
  }

  /** Forget a token whose post could not be processed, so Mailgun's retry is not taken for a replay. */
  async release(token: string): Promise<void> {
    await this.redis.del(this.key(token));
  }

  private key(token: string): string {
    return `${this.config.redis.prefix}:webhook-token:${createHash('sha256').update(token).digest('hex')}`;
  }
}
