import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { DISPATCH_QUEUE } from '../../src/modules/messages/dispatch-queue';
import { newAgency } from '../factories/accounts';
import { campaignAct, newCampaign } from '../factories/campaigns';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../factories/delivery-servers';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { SmtpSink } from '../utils/smtp-sink';
import { waitFor } from '../utils/wait-for';

/** Jobs per worker process: the most a killed worker can hold in flight. */
const CONCURRENCY = 3;
const RECIPIENTS = 150;
/** The worker is killed once the sink has this many of the campaign's messages. */
const KILL_AFTER = 50;
/** ts-node compiles the whole app on start: slow, and slower on a loaded machine. */
const BOOT_TIMEOUT_MS = 60_000;
const REPO_ROOT = join(__dirname, '..', '..');

interface WorkerProcess {
  name: string;
  child: ChildProcessWithoutNullStreams;
  exited: Promise<void>;
}

/**
 * Crash recovery across processes: the in-process app serves the API only (ROLE=api) and real
 * ROLE=worker child processes send. One is killed with SIGKILL mid-campaign (no shutdown hook
 * runs), a second one is started, and every message the dead worker was not holding must end
 * SENT and arrive exactly once.
 *
 * What a dead worker holds — its "in-flight" messages — is every message SENDING in the database
 * or whose job is active (locked by it) in Redis at the kill. Those wait for Bull's lock
 * (lockDuration 120 s) to expire, or the sweeper's STUCK_SENDING_MS (5 min), so this test counts
 * and reports them rather than waiting for them; they are the only ones a duplicate may concern.
 */
describe('a worker process killed mid-campaign', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let db: Client;
  let redis: Redis;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    sink = new SmtpSink({ users: [SINK_USER] });
    await sink.start();
    t = await createTestApp({ ROLE: 'api' });
    db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    redis = new Redis(t.config.redis.url);
  });
  afterAll(async () => {
    for (const w of workers) {
      w.child.kill('SIGKILL');
      await w.exited;
    }
    redis?.disconnect();
    await db?.end();
    await t?.close();
    await sink?.stop();
  });

  /** Every PostgreSQL connection of a worker carries its name (PGAPPNAME), so the test can tell when they are all gone. */
  const appName = (name: string): string => `mailroute-crash-${name}`;

  /** Starts a ROLE=worker process on this test's database and Redis prefix; resolves once it is taking jobs. */
  const startWorker = async (name: string): Promise<WorkerProcess> => {
    const { keys, currentKeyId } = t.config.credentials;
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join('test', 'reliability', 'worker-process.ts')], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        ROLE: 'worker',
        PORT: '3999', // required by the config; worker-process never listens
        DATABASE_URL: t.databaseUrl,
        REDIS_URL: t.config.redis.url,
        REDIS_PREFIX: t.config.redis.prefix,
        // The servers' credentials were sealed by the in-process app: the worker must open them with the same key.
        CREDENTIALS_KEY: keys[currentKeyId].toString('base64'),
        ADMIN_TOKEN: t.adminToken,
        LOG_LEVEL: 'silent',
        WORKER_CONCURRENCY: String(CONCURRENCY),
        SWEEP_INTERVAL_MS: '500',
        RETRY_BASE_MS: '100',
        PGAPPNAME: appName(name),
        // Every provider API resolves to a closed port, as in createTestApp.
        SES_ENDPOINT: 'http://127.0.0.1:9',
        SNS_ENDPOINT: 'http://127.0.0.1:9',
        SENDGRID_API_URL: 'http://127.0.0.1:9',
        MAILGUN_API_URL: 'http://127.0.0.1:9',
        SPARKPOST_API_URL: 'http://127.0.0.1:9',
        ELASTICEMAIL_API_URL: 'http://127.0.0.1:9',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    const worker: WorkerProcess = { name, child, exited };
    workers.push(worker);
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4000);
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(`not ready within ${BOOT_TIMEOUT_MS} ms`), BOOT_TIMEOUT_MS);
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => fail(`exited before ready (code ${code}, signal ${signal})`);
      const onData = (chunk: Buffer): void => {
        stdout += chunk.toString('utf8');
        if (!/^ready$/m.test(stdout)) return;
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve();
      };
      function fail(why: string): void {
        clearTimeout(timer);
        child.off('exit', onExit);
        reject(new Error(`worker ${name} ${why}; stderr: ${stderr}`));
      }
      child.stdout.on('data', onData);
      child.once('exit', onExit);
    });
    return worker;
  };

  const statusOf = async (campaignId: string): Promise<Map<string, { to: string; status: string }>> => {
    const { rows } = await db.query<{ id: string; to: string; status: string }>('SELECT id, to_address AS "to", status::text AS status FROM messages WHERE campaign_id = $1', [
      campaignId,
    ]);
    return new Map(rows.map((r) => [r.id, { to: r.to, status: r.status }]));
  };
  /** Message ids whose jobs are active (taken by a worker, under its lock) in Bull. */
  const activeJobs = async (): Promise<string[]> => {
    const jobIds = await redis.lrange(`${t.config.redis.prefix}:bull:${DISPATCH_QUEUE}:active`, 0, -1);
    return jobIds.map((id) => id.split(':')[0]);
  };
  const received = (domain: string): string[] => sink.messages.flatMap((m) => m.envelope.to).filter((to) => to.endsWith(`@${domain}`));

  it('sends every message the dead worker did not hold exactly once, and counts the ones it held', async () => {
    const started = Date.now();
    const workerA = startWorker('a');
    const agency = await newAgency(t);
    // pauseMs 0: with a pause, a worker killed mid-send leaves the server's in-flight pacing
    // mark behind, and every other worker waits for it to expire (MAX_SEND_MS, 90 s) before
    // it sends through that server again. That is pacing's recovery, not the queue's.
    const server = await createServer(t, smtpServerInput(agency.id, sink.port, { pauseMs: 0 }));
    await verifyAndActivate(t, server.id);
    const domain = 'crash.example';
    const recipients = Array.from({ length: RECIPIENTS }, (_v, i) => `reader${i}@${domain}`);
    const campaign = await newCampaign(t, agency.id, {
      name: 'Crash',
      recipients,
    });
    const a = await workerA;
    const bootedA = Date.now();

    const before = sink.messages.length;
    await campaignAct(t, 'startCampaign', campaign.id);
    await sink.waitFor(before + KILL_AFTER, 30_000);
    a.child.kill('SIGKILL');
    await a.exited;
    // A statement the worker wrote just before it died may still be executed by its backend:
    // the picture is final once its connections are gone.
    await waitFor(
      'the killed worker’s database connections to close',
      async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [appName('a')])).rows[0].n === 0,
      10_000,
    );
    const receivedAtKill = received(domain).length;
    const atKill = await statusOf(campaign.id);
    const active = await activeJobs();
    const inFlight = new Set([...[...atKill].filter(([, m]) => m.status === 'SENDING').map(([id]) => id), ...active]);
    const countsAtKill: Record<string, number> = {};
    for (const m of atKill.values()) countsAtKill[m.status] = (countsAtKill[m.status] ?? 0) + 1;

    // The kill came mid-campaign: the next worker has work left that only it can do.
    expect(atKill.size).toBe(RECIPIENTS);
    expect(countsAtKill.QUEUED ?? 0).toBeGreaterThan(RECIPIENTS / 3);
    expect(inFlight.size).toBeLessThanOrEqual(CONCURRENCY);

    const killedAt = Date.now();
    await startWorker('b');
    const bootedB = Date.now();
    const expected = [...atKill].filter(([id]) => !inFlight.has(id));
    await waitFor(
      'every message the dead worker did not hold to be SENT',
      async () => {
        const now = await statusOf(campaign.id);
        return expected.every(([id]) => now.get(id)?.status === 'SENT');
      },
      30_000,
      100,
    );
    const done = Date.now();

    const final = await statusOf(campaign.id);
    const arrivals = new Map<string, number>();
    for (const to of received(domain)) arrivals.set(to, (arrivals.get(to) ?? 0) + 1);
    const inFlightTo = new Set([...inFlight].map((id) => final.get(id)?.to));
    // Exactly once for everything not held by the dead worker…
    expect(expected.map(([, m]) => [m.to, arrivals.get(m.to) ?? 0]).filter(([, n]) => n !== 1)).toEqual([]);
    // …and nothing doubled anywhere else.
    expect([...arrivals].filter(([to, n]) => n > 1 && !inFlightTo.has(to))).toEqual([]);
    expect(received(domain).length).toBeGreaterThan(receivedAtKill);
    // Each arrival carries the Message-ID derived from its message's id, so a duplicate would be recognisable downstream.
    const idByTo = new Map([...final].map(([id, m]) => [m.to, id]));
    for (const m of sink.messages.filter((s) => s.envelope.to[0]?.endsWith(`@${domain}`))) expect(m.messageId).toContain(idByTo.get(m.envelope.to[0]) ?? 'unknown');

    const heldStatuses = [...inFlight].map((id) => final.get(id)?.status ?? 'missing');
    const heldArrived = [...inFlight].filter((id) => arrivals.has(final.get(id)?.to ?? '')).length;
    console.log(
      JSON.stringify({
        recipients: RECIPIENTS,
        concurrency: CONCURRENCY,
        receivedAtKill,
        statusesAtKill: countsAtKill,
        activeJobsAtKill: active.length,
        inFlight: inFlight.size,
        inFlightStatusesAtEnd: heldStatuses,
        inFlightThatArrived: heldArrived,
        sentAfterKill: received(domain).length - receivedAtKill,
        bootAMs: bootedA - started,
        bootBMs: bootedB - killedAt,
        recoveryMs: done - killedAt,
        totalMs: done - started,
      }),
    );
  }, 150_000);
});
