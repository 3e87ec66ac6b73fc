import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { createHash } from 'node:crypto';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import { REDIS } from '../../infra/redis/redis.module';
import { MAILGUN_SIGNATURE_MAX_AGE_MS, MAILGUN_SIGNATURE_MAX_SKEW_MS } from '../../providers/mailgun/mailgun.adapter';

/** How long a post being applied holds its signature before a retry may apply it (a crash mid-way). */
const APPLYING_MS = 2 * 60_000;

/** What a Mailgun post's signature says: first seen (and now held), being applied now, or applied. */
export type SignatureClaim = 'first' | 'applying' | 'applied';

/**
 * Remembers the signatures of Mailgun webhook posts: its HMAC covers only timestamp + token, so
 * the same signed post could be sent again while its timestamp is accepted. SET NX makes the
 * first use win across processes. The first use holds the signature as "applying" for a short
 * while, then, once applied, as "applied" until the adapter would refuse its timestamp anyway: a
 * retry arriving while the first is still being applied is told to come back (the first may yet
 * fail), one arriving after is a duplicate.
 */
@Injectable()
export class WebhookReplayGuard {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async claim(signature: string): Promise<SignatureClaim> {
    const key = this.key(signature);
    if ((await this.redis.set(key, 'applying', 'PX', APPLYING_MS, 'NX')) === 'OK') return 'first';
    return (await this.redis.get(key)) === 'applied' ? 'applied' : 'applying';
  }

  /** The post was applied: its signature is remembered as long as its timestamp is accepted. */
  async applied(signature: string, timestampSeconds: number, now = Date.now()): Promise<void> {
    const ttlMs = Math.min(MAILGUN_SIGNATURE_MAX_AGE_MS + MAILGUN_SIGNATURE_MAX_SKEW_MS, Math.max(1_000, timestampSeconds * 1000 + MAILGUN_SIGNATURE_MAX_AGE_MS - now));
    await this.redis.set(this.key(signature), 'applied', 'PX', ttlMs);
  }

  /** Forget a signature whose post could not be processed, so Mailgun's retry is not taken for a replay. */
  async release(signature: string): Promise<void> {
    await this.redis.del(this.key(signature));
  }

  private key(signature: string): string {
    return `${this.config.redis.prefix}:webhook-signature:${createHash('sha256').update(signature).digest('hex')}`;
  }
}
