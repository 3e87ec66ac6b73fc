import Redis from 'ioredis';
import { Client } from 'pg';
import { DISPATCH_QUEUE } from '../../src/modules/messages/dispatch-queue';
import { newAgency } from '../factories/accounts';
import { campaignAct, newCampaign } from '../factories/campaigns';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../factories/delivery-servers';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { SmtpSink } from '../utils/smtp-sink';
import { waitFor } from '../utils/wait-for';
import { countBy, WorkerFleet } from './worker-harness';

/** Jobs per worker process (WORKER_CONCURRENCY). */
const CONCURRENCY = 3;
/**
 * The most a killed worker can hold in flight: its jobs in progress, plus as many sends whose
 * job ended when the provider accepted them but whose SENT record was still being written.
 */
const MAX_IN_FLIGHT = 2 * CONCURRENCY;
const RECIPIENTS = 150;
/** The worker is killed once the sink has this many of the campaign's messages. */
const KILL_AFTER = 50;
/**
 * Short recovery bounds, so the dead worker's messages come back within seconds: its jobs' locks
 * lapse after QUEUE_LOCK_MS, and the sweeper takes back a message SENDING for STUCK_SENDING_MS
 * whose job holds no lock.
 */
const RECOVERY_ENV = { QUEUE_LOCK_MS: '4000', STUCK_SENDING_MS: '2000', SWEEP_INTERVAL_MS: '500' };

/**
 * Crash recovery across processes: the in-process app serves the API only (ROLE=api) and real
 * ROLE=worker child processes send. One is killed with SIGKILL mid-campaign (no shutdown hook
 * runs), a second one is started, and every message must end SENT: the ones the dead worker was
 * not holding exactly once, the ones it held ("in flight": SENDING in the database or whose job
 * was active in Redis at the kill) at least once and at most twice. Those are the only ones a
 * duplicate may concern; the test counts and reports them.
 */
describe('a worker process killed mid-campaign', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let db: Client;
  let redis: Redis;
  let fleet: WorkerFleet;

  beforeAll(async () => {
    sink = new SmtpSink({ users: [SINK_USER] });
    await sink.start();
    t = await createTestApp({ ROLE: 'api' });
    fleet = new WorkerFleet(t);
    db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    redis = new Redis(t.config.redis.url);
  });
  afterAll(async () => {
    await fleet?.close();
    redis?.disconnect();
    await db?.end();
    await t?.close();
    await sink?.stop();
  });

  const statusOf = async (campaignId: string): Promise<Map<string, { to: string; status: string }>> => {
    const { rows } = await db.query<{ id: string; to: string; status: string }>('SELECT id, to_address AS "to", status::text AS status FROM messages WHERE campaign_id = $1', [campaignId]);
    return new Map(rows.map((r) => [r.id, { to: r.to, status: r.status }]));
  };
  /** Message ids whose jobs are active (taken by a worker, under its lock) in Bull. */
  const activeJobs = async (): Promise<string[]> => {
    const jobIds = await redis.lrange(`${t.config.redis.prefix}:bull:${DISPATCH_QUEUE}:active`, 0, -1);
    return jobIds.map((id) => id.split(':')[0]);
  };
  const received = (domain: string): string[] => sink.messages.flatMap((m) => m.envelope.to).filter((to) => to.endsWith(`@${domain}`));

  it('ends every message SENT, sending twice at most the few the dead worker held', async () => {
    const started = Date.now();
    const workerA = fleet.start({ name: 'crash-a', concurrency: CONCURRENCY, env: RECOVERY_ENV });
    const agency = await newAgency(t);
    // pauseMs 0: with a pause, a worker killed mid-send leaves the server's in-flight pacing
    // mark behind, and every other worker waits for it to expire (MAX_SEND_MS, 90 s) before
    // it sends through that server again. That is pacing's recovery, not the queue's.
    const server = await createServer(t, smtpServerInput(agency.id, sink.port, { pauseMs: 0 }));
    await verifyAndActivate(t, server.id);
    const domain = 'crash.example';
    const recipients = Array.from({ length: RECIPIENTS }, (_v, i) => `reader${i}@${domain}`);
    const campaign = await newCampaign(t, agency.id, { name: 'Crash', recipients });
    const a = await workerA;
    const bootedA = Date.now();

    const before = sink.messages.length;
    await campaignAct(t, 'startCampaign', campaign.id);
    await sink.waitFor(before + KILL_AFTER, 30_000);
    await fleet.kill(a, db);
    const receivedAtKill = received(domain).length;
    const atKill = await statusOf(campaign.id);
    const active = await activeJobs();
    const inFlight = new Set([...[...atKill].filter(([, m]) => m.status === 'SENDING').map(([id]) => id), ...active]);
    const countsAtKill = countBy(atKill.values(), (m) => m.status);

    // The kill came mid-campaign: the next worker has work left that only it can do.
    expect(atKill.size).toBe(RECIPIENTS);
    expect(countsAtKill.QUEUED ?? 0).toBeGreaterThan(RECIPIENTS / 3);
    expect(inFlight.size).toBeLessThanOrEqual(MAX_IN_FLIGHT);

    const killedAt = Date.now();
    await fleet.start({ name: 'crash-b', concurrency: CONCURRENCY, env: RECOVERY_ENV });
    const bootedB = Date.now();
    // Everything, the dead worker's messages included: their locks lapse and the sweeper takes them back.
    await waitFor('every message of the campaign to be SENT', async () => [...(await statusOf(campaign.id)).values()].every((m) => m.status === 'SENT'), 60_000, 100);
    const done = Date.now();

    const final = await statusOf(campaign.id);
    const arrivals = new Map<string, number>();
    for (const to of received(domain)) arrivals.set(to, (arrivals.get(to) ?? 0) + 1);
    const inFlightTo = new Set([...inFlight].map((id) => final.get(id)?.to));
    // Every recipient got its message…
    expect(recipients.filter((to) => !arrivals.has(to))).toEqual([]);
    // …exactly once unless the dead worker held it, and never more than twice.
    expect([...arrivals].filter(([to, n]) => n > 1 && !inFlightTo.has(to))).toEqual([]);
    expect([...arrivals].filter(([, n]) => n > 2)).toEqual([]);
    expect(received(domain).length).toBeGreaterThan(receivedAtKill);
    // Each arrival carries the Message-ID derived from its message's id, so a duplicate is recognisable downstream.
    const idByTo = new Map([...final].map(([id, m]) => [m.to, id]));
    for (const m of sink.messages.filter((s) => s.envelope.to[0]?.endsWith(`@${domain}`))) expect(m.messageId).toContain(idByTo.get(m.envelope.to[0]) ?? 'unknown');

    const duplicates = [...arrivals].filter(([, n]) => n > 1).length;
    console.log(
      JSON.stringify({
        scenario: 'worker-crash',
        recipients: RECIPIENTS,
        concurrency: CONCURRENCY,
        receivedAtKill,
        statusesAtKill: countsAtKill,
        activeJobsAtKill: active.length,
        inFlight: inFlight.size,
        duplicates,
        sentAfterKill: received(domain).length - receivedAtKill,
        bootAMs: bootedA - started,
        bootBMs: bootedB - killedAt,
        recoveryMs: done - killedAt,
        totalMs: done - started,
      }),
    );
  }, 240_000);
});
