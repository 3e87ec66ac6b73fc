import { Client } from 'pg';
import { ensureDatabase } from '../../src/infra/database/ensure-database';
import { runMigrations } from '../../src/infra/database/run-migrations';
import { newAgency } from '../factories/accounts';
import { campaignAct, newCampaign } from '../factories/campaigns';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../factories/delivery-servers';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { SmtpSink } from '../utils/smtp-sink';
import { waitFor } from '../utils/wait-for';
import { PrivatePostgres } from './private-services';
import { countBy, WorkerFleet } from './worker-harness';

const RECIPIENTS = 150;
/** PostgreSQL goes down once the sink has this many of the campaign's messages. */
const STOP_AFTER = 40;
/** How long PostgreSQL stays down: the fault itself, not a wait for anything. */
const DOWN_MS = 3_000;
const CONCURRENCY = 3;
const WORKERS = ['pg-a', 'pg-b'];

/**
 * PostgreSQL restarted mid-campaign (an immediate shutdown of a cluster of this test's own,
 * every connection cut, a few seconds down, then started again) under two ROLE=worker processes
 * and this ROLE=api process. Nobody steps in: the workers retry and recover by themselves, every
 * message ends SENT, none is lost, and only a message in flight at the stop may arrive twice
 * (counted and reported).
 */
describe('PostgreSQL restarted mid-campaign', () => {
  let pg: PrivatePostgres;
  let t: TestApp;
  let sink: SmtpSink;
  let fleet: WorkerFleet;

  beforeAll(async () => {
    pg = await PrivatePostgres.start();
    const url = pg.url('mailroute_reliability');
    await ensureDatabase(url);
    await runMigrations(url);
    sink = new SmtpSink({ users: [SINK_USER] });
    await sink.start();
    t = await createTestApp({ ROLE: 'api', DATABASE_URL: url });
    fleet = new WorkerFleet(t);
  }, 120_000);
  afterAll(async () => {
    await fleet?.close();
    await t?.close();
    await sink?.stop();
    await pg?.destroy();
  });

  /** One query on a connection of its own: a long-lived one would not survive the restart. */
  const query = async <R extends object>(sql: string, params: unknown[]): Promise<R[]> => {
    const client = new Client({ connectionString: t.databaseUrl });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end();
    }
  };

  it('every message ends SENT without anyone stepping in, and only the ones in flight may arrive twice', async () => {
    const started = Date.now();
    const env = { QUEUE_LOCK_MS: '4000', STUCK_SENDING_MS: '2000', SWEEP_INTERVAL_MS: '500' };
    const booting = Promise.all(WORKERS.map((name) => fleet.start({ name, concurrency: CONCURRENCY, env })));
    const agency = await newAgency(t);
    const server = await createServer(t, smtpServerInput(agency.id, sink.port, { pauseMs: 0 }));
    await verifyAndActivate(t, server.id);
    const domain = 'pg-restart.example';
    const recipients = Array.from({ length: RECIPIENTS }, (_v, i) => `reader${i}@${domain}`);
    const campaign = await newCampaign(t, agency.id, { name: 'PostgreSQL restart', recipients });
    const workers = await booting;
    const booted = Date.now();

    type Row = { id: string; to: string; status: string };
    const rows = (): Promise<Row[]> => query<Row>('SELECT id, to_address AS "to", status::text AS status FROM messages WHERE campaign_id = $1', [campaign.id]);
    const arrived = (): string[] => sink.messages.flatMap((m) => m.envelope.to).filter((to) => to.endsWith(`@${domain}`));

    await campaignAct(t, 'startCampaign', campaign.id);
    await waitFor('the first messages to arrive', async () => arrived().length >= STOP_AFTER, 60_000, 10);
    const beforeStop = await rows();
    await pg.stopImmediate();
    const stoppedAt = Date.now();
    const arrivedAtStop = arrived().length;
    const arrivedBeforeStop = new Set(arrived());
    // The fault: the database stays away for a while, as a restart does.
    await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
    await pg.start();
    const restartedAt = Date.now();
    const arrivedWhileDown = arrived().length - arrivedAtStop;

    const countsBeforeStop = countBy(beforeStop, (r) => r.status);
    // The stop came mid-campaign.
    expect(countsBeforeStop.SENT ?? 0).toBeLessThan(RECIPIENTS / 2);

    const final = await waitFor(
      'every message of the campaign to be SENT',
      async () => {
        const now = await rows();
        return now.every((r) => r.status === 'SENT') ? now : null;
      },
      90_000,
      250,
    ).catch(async (err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)}; statuses: ${JSON.stringify(countBy(await rows(), (r) => r.status))}`);
    });
    const done = Date.now();

    const arrivals = new Map<string, number>();
    for (const to of arrived()) arrivals.set(to, (arrivals.get(to) ?? 0) + 1);
    // Nothing lost: every recipient got its message.
    expect(final).toHaveLength(RECIPIENTS);
    expect(recipients.filter((to) => !arrivals.has(to))).toEqual([]);
    // In flight at the stop: not yet SENT just before it. Those may arrive twice (never three
    // times); everything that was SENT before the stop arrived exactly once.
    const sentBefore = new Set(beforeStop.filter((r) => r.status === 'SENT').map((r) => r.to));
    expect([...sentBefore].filter((to) => arrivals.get(to) !== 1)).toEqual([]);
    const duplicates = [...arrivals].filter(([, n]) => n > 1).map(([to]) => to);
    expect([...arrivals].filter(([, n]) => n > 2)).toEqual([]);
    // A duplicate can only come from a send under way when the database went (first arrival
    // before it came back): at most what the workers held, their jobs in progress and as many
    // accepted sends whose SENT record was still to be written. Mail first sent after it was back arrived once.
    const firstArrival = new Map<string, number>();
    for (const m of sink.messages) for (const to of m.envelope.to) if (!firstArrival.has(to)) firstArrival.set(to, m.receivedAt);
    expect(duplicates.filter((to) => (firstArrival.get(to) ?? Infinity) > restartedAt)).toEqual([]);
    expect(duplicates.length).toBeLessThanOrEqual(WORKERS.length * 2 * CONCURRENCY);
    expect(workers.map((w) => w.child.exitCode ?? w.child.signalCode)).toEqual([null, null]);

    console.log(
      JSON.stringify({
        scenario: 'postgres-restart',
        recipients: RECIPIENTS,
        workers: WORKERS.length,
        concurrency: CONCURRENCY,
        statusesBeforeStop: countsBeforeStop,
        arrivedAtStop,
        arrivedWhileDown,
        // Held by a worker when the database went: SENDING just before, or already at the sink but not yet recorded SENT.
        inFlightAtStop: beforeStop.filter((r) => r.status === 'SENDING' || (r.status !== 'SENT' && arrivedBeforeStop.has(r.to))).length,
        duplicates: duplicates.length,
        bootMs: booted - started,
        downMs: restartedAt - stoppedAt,
        recoveryMs: done - restartedAt,
      }),
    );
  }, 240_000);
});
