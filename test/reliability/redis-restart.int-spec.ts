import { Client } from 'pg';
import { newAgency } from '../factories/accounts';
import { campaignAct, newCampaign } from '../factories/campaigns';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../factories/delivery-servers';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { SmtpSink } from '../utils/smtp-sink';
import { waitFor } from '../utils/wait-for';
import { PrivateRedis } from './private-services';
import { countBy, expectExactlyLimitSent, quietHour, settledUnderHourlyLimit, WorkerFleet } from './worker-harness';

const RECIPIENTS = 120;
const HOURLY_LIMIT = 40;
/** Redis is killed once this many of the campaign's messages have arrived. */
const KILL_AFTER = 15;
const CONCURRENCY = 4;

/**
 * Redis restarted empty mid-campaign (kill -9 of a Redis of this test's own, then a new empty one
 * on the same port), under one ROLE=worker process and this ROLE=api process: the queue, the
 * quota counters and the pause slots are gone. The sweeper re-queues what the database says is
 * pending, the quota counters are rebuilt from the messages sent, and so: exactly the hourly
 * limit is SENT this hour, the rest waits for the reset (DEFERRED), nothing is lost and nothing
 * arrives twice.
 */
describe('Redis restarted empty mid-campaign', () => {
  let redis: PrivateRedis;
  let t: TestApp;
  let sink: SmtpSink;
  let db: Client;
  let fleet: WorkerFleet;

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    sink = new SmtpSink({ users: [SINK_USER] });
    await sink.start();
    t = await createTestApp({ ROLE: 'api', REDIS_URL: redis.url });
    fleet = new WorkerFleet(t);
    db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await fleet?.close();
    await db?.end();
    await t?.close();
    await sink?.stop();
    await redis?.stop();
  });

  it('rebuilds the queue and the quota counters: exactly the limit SENT, the rest DEFERRED, none twice', async () => {
    const started = Date.now();
    const booting = fleet.start({ name: 'redis-loss', concurrency: CONCURRENCY, env: { QUEUE_LOCK_MS: '4000', STUCK_SENDING_MS: '2000', SWEEP_INTERVAL_MS: '500' } });
    const hour = quietHour();
    const agency = await newAgency(t, { timezone: hour.timezone, onQuotaExhausted: 'WAIT' });
    const server = await createServer(t, smtpServerInput(agency.id, sink.port, { pauseMs: 0, quota: { hourly: HOURLY_LIMIT } }));
    await verifyAndActivate(t, server.id);
    const domain = 'redis-loss.example';
    const recipients = Array.from({ length: RECIPIENTS }, (_v, i) => `reader${i}@${domain}`);
    const campaign = await newCampaign(t, agency.id, { name: 'Redis loss', recipients });
    const worker = await booting;
    const booted = Date.now();

    const statuses = async (): Promise<Record<string, number>> =>
      countBy((await db.query<{ status: string }>('SELECT status::text AS status FROM messages WHERE campaign_id = $1', [campaign.id])).rows, (r) => r.status);
    const arrived = () => sink.messages.filter((m) => m.envelope.to[0]?.endsWith(`@${domain}`));

    await campaignAct(t, 'startCampaign', campaign.id);
    await waitFor('the first messages to arrive', async () => arrived().length >= KILL_AFTER, 30_000, 10);
    await redis.kill();
    const killedAt = Date.now();
    const atKill = await statuses();
    const arrivedAtKill = arrived().length;
    await redis.restart();
    const restartedAt = Date.now();
    // The loss came mid-campaign: what was pending can only be sent through the rebuilt queue.
    expect((atKill.QUEUED ?? 0) + (atKill.SENDING ?? 0)).toBeGreaterThan(RECIPIENTS - HOURLY_LIMIT);
    expect(arrivedAtKill).toBeLessThan(HOURLY_LIMIT);

    const settled = await settledUnderHourlyLimit(db, campaign.id, hour.resetsAt, 90_000);
    const done = Date.now();
    // No window overshot its limit, nothing was lost (the rest waits for the next hour), nothing arrived twice.
    const messageIds = arrived().map((m) => m.messageId);
    expectExactlyLimitSent(settled, messageIds, HOURLY_LIMIT);
    expect(settled).toHaveLength(RECIPIENTS);
    // The worker rode the restart out: it is still the one sending.
    expect(worker.child.exitCode ?? worker.child.signalCode).toBeNull();

    console.log(
      JSON.stringify({
        scenario: 'redis-restart',
        recipients: RECIPIENTS,
        hourlyLimit: HOURLY_LIMIT,
        timezone: hour.timezone,
        arrivedAtKill,
        statusesAtKill: atKill,
        statuses: countBy(settled, (r) => r.status),
        arrivals: messageIds.length,
        downMs: restartedAt - killedAt,
        bootMs: booted - started,
        recoveryMs: done - restartedAt,
      }),
    );
  }, 240_000);
});
