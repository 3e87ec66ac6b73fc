import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { createHash, randomUUID } from 'node:crypto';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import { RELEASE_IF_HELD } from '../../infra/redis/redis-mutex';
import { REDIS } from '../../infra/redis/redis.module';
import { MAILGUN_SIGNATURE_MAX_AGE_MS, MAILGUN_SIGNATURE_MAX_SKEW_MS } from '../../providers/mailgun/mailgun.adapter';

/** How long a post being applied holds its signature before a retry may apply it (a crash mid-way). */
const APPLYING_MS = 2 * 60_000;

/**
 * What a Mailgun post's signature says: first seen (and now held, under `hold`), being applied
 * now, or applied.
 */
export type SignatureClaim = { state: 'first'; hold: string } | { state: 'applying' | 'applied' };

const APPLYING = 'applying:';

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
    const hold = APPLYING + randomUUID();
    if ((await this.redis.set(key, hold, 'PX', APPLYING_MS, 'NX')) === 'OK') return { state: 'first', hold };
    return { state: (await this.redis.get(key)) === 'applied' ? 'applied' : 'applying' };
  }

  /** The post was applied: its signature is remembered as long as its timestamp is accepted. */
  async applied(signature: string, timestampSeconds: number, now = Date.now()): Promise<void> {
    const ttlMs = Math.min(MAILGUN_SIGNATURE_MAX_AGE_MS + MAILGUN_SIGNATURE_MAX_SKEW_MS, Math.max(1_000, timestampSeconds * 1000 + MAILGUN_SIGNATURE_MAX_AGE_MS - now));
    await this.redis.set(this.key(signature), 'applied', 'PX', ttlMs);
  }

  /**
   * Forget a signature whose post could not be processed, so Mailgun's retry is not taken for a
   * replay; only while this post still holds it: a post applied for longer than the hold may find
   * a retry holding it now (or applied), which its failure must not undo.
   */
  async release(signature: string, hold: string): Promise<void> {
    await this.redis.eval(RELEASE_IF_HELD, 1, this.key(signature), hold);
  }

  private key(signature: string): string {
    return `${this.config.redis.prefix}:webhook-signature:${createHash('sha256').update(signature).digest('hex')}`;
  }
}
