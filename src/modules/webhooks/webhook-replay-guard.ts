import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { createHash } from 'node:crypto';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import { REDIS } from '../../infra/redis/redis.module';
import { MAILGUN_SIGNATURE_MAX_AGE_MS, MAILGUN_SIGNATURE_MAX_SKEW_MS } from '../../providers/mailgun/mailgun.adapter';

/**
 * Remembers the signatures of Mailgun webhook posts: its HMAC covers only timestamp + token, so
 * the same signed post could be sent again while its timestamp is accepted. SET NX makes the
 * first use win across processes. A signature is remembered until the adapter would refuse its
 * timestamp anyway.
 */
@Injectable()
export class WebhookReplayGuard {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** true when this signature is seen for the first time (and is now remembered). */
  async claim(signature: string, timestampSeconds: number, now = Date.now()): Promise<boolean> {
    const ttlMs = Math.min(MAILGUN_SIGNATURE_MAX_AGE_MS + MAILGUN_SIGNATURE_MAX_SKEW_MS, Math.max(1_000, timestampSeconds * 1000 + MAILGUN_SIGNATURE_MAX_AGE_MS - now));
    const set = await this.redis.set(this.key(signature), '1', 'PX', ttlMs, 'NX');
    return set === 'OK';
  }

  /** Forget a signature whose post could not be processed, so Mailgun's retry is not taken for a replay. */
  async release(signature: string): Promise<void> {
    await this.redis.del(this.key(signature));
  }

  private key(signature: string): string {
    return `${this.config.redis.prefix}:webhook-signature:${createHash('sha256').update(signature).digest('hex')}`;
  }
}
