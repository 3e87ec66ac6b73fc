import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import type { AppConfig } from '../../src/config/configuration';
import { WebhookReplayGuard } from '../../src/modules/webhooks/webhook-replay-guard';
import { TEST_REDIS_URL } from '../utils/test-db';

/** The Mailgun signature guard against the real Redis. */
describe('WebhookReplayGuard', () => {
  const redis = new Redis(TEST_REDIS_URL);
  const prefix = `mailroute-test-guard-${randomUUID()}`;
  const guard = new WebhookReplayGuard(redis, { redis: { prefix } } as AppConfig);
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('a post whose hold lapsed and whose retry took the signature does not, on failing, release the retry', async () => {
    const signature = randomUUID();
    const first = await guard.claim(signature);
    expect(first.state).toBe('first');
    // The first post ran past its hold (as a post stuck on a lock would): the key lapses.
    await redis.del(...(await redis.keys(`${prefix}:webhook-signature:*`)));
    const retry = await guard.claim(signature);
    expect(retry.state).toBe('first');
    // The first post fails now: its release must leave the retry's hold in place.
    if (first.state === 'first') await guard.release(signature, first.hold);
    expect(await guard.claim(signature)).toEqual({ state: 'applying' });
    // The retry's own failure releases it, so Mailgun's next retry can apply the post.
    if (retry.state === 'first') await guard.release(signature, retry.hold);
    expect((await guard.claim(signature)).state).toBe('first');
  });

  it('an applied signature is not released by a late failure of an earlier holder', async () => {
    const signature = randomUUID();
    const first = await guard.claim(signature);
    await guard.applied(signature, Math.floor(Date.now() / 1000));
    if (first.state === 'first') await guard.release(signature, first.hold);
    expect(await guard.claim(signature)).toEqual({ state: 'applied' });
  });
});
