import { join } from 'node:path';
import { Client } from 'pg';
import { newAgency } from '../factories/accounts';
import { campaignAct, newCampaign } from '../factories/campaigns';
import { createServer, smtpServerInput, verifyAndActivate } from '../factories/delivery-servers';
import { ChildRpc } from '../quota/child-rpc';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import type { SinkArrival } from './sink-process';
import { countBy, expectExactlyLimitSent, quietHour, settledUnderHourlyLimit, WorkerFleet } from './worker-harness';

const RECIPIENTS = 100;
const HOURLY_LIMIT = 60;
const PAUSE_MS = 50;
/** Clock tolerance of the contract's pacing test: every gap >= pauseMs - 5 ms. */
const TOLERANCE_MS = 5;
const CONCURRENCY = 4;

/**
 * Two ROLE=worker processes and one API process (this one, ROLE=api) on one PostgreSQL and one
 * Redis, sending one campaign through one server with an hourly limit below the campaign's size
 * (WAIT) and a pause: the limit holds exactly, the pause holds between any two arrivals whichever
 * worker sent them, and nothing is sent twice. The sink runs in its own process so the arrival
 * times it records are not skewed by this process's work.
 */
describe('two worker processes and one API process', () => {
  let t: TestApp;
  let sink: ChildRpc;
  let db: Client;
  let fleet: WorkerFleet;

  beforeAll(async () => {
    sink = new ChildRpc(join(__dirname, 'sink-process.ts'));
    t = await createTestApp({ ROLE: 'api' });
    fleet = new WorkerFleet(t);
    db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await fleet?.close();
    await db?.end();
    await t?.close();
    await sink?.stop();
  });

  it('hold the hourly limit exactly, space every arrival by pauseMs, and send nothing twice', async () => {
    const started = Date.now();
    const sinkPort = await sink.call<number>('start');
    const booting = Promise.all(['pair-a', 'pair-b'].map((name) => fleet.start({ name, concurrency: CONCURRENCY })));
    const hour = quietHour();
    const agency = await newAgency(t, { timezone: hour.timezone, onQuotaExhausted: 'WAIT' });
    const server = await createServer(t, smtpServerInput(agency.id, sinkPort, { pauseMs: PAUSE_MS, quota: { hourly: HOURLY_LIMIT } }));
    await verifyAndActivate(t, server.id);
    const domain = 'pair.example';
    const recipients = Array.from({ length: RECIPIENTS }, (_v, i) => `reader${i}@${domain}`);
    const campaign = await newCampaign(t, agency.id, { name: 'Pair', recipients });
    const workers = await booting;
    const booted = Date.now();
    await campaignAct(t, 'startCampaign', campaign.id);

    const settled = await settledUnderHourlyLimit(db, campaign.id, hour.resetsAt, 90_000);
    const done = Date.now();
    // Everything that was sent has arrived (the SENT row is written after the provider's accept).
    const arrivals = (await sink.call<SinkArrival[]>('arrivals')).filter((a) => a.to[0]?.endsWith(`@${domain}`));
    expectExactlyLimitSent(
      settled,
      arrivals.map((a) => a.messageId),
      HOURLY_LIMIT,
    );
    expect(settled).toHaveLength(RECIPIENTS);
    // The pause holds between consecutive arrivals, whichever worker sent them.
    const times = arrivals.map((a) => a.receivedAt).sort((a, b) => a - b);
    const gaps = times.slice(1).map((at, i) => at - times[i]);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(PAUSE_MS - TOLERANCE_MS);
    // Both workers were taking jobs all along (neither died on the way).
    expect(workers.map((w) => w.child.exitCode ?? w.child.signalCode)).toEqual([null, null]);

    console.log(
      JSON.stringify({
        scenario: 'two-workers',
        recipients: RECIPIENTS,
        hourlyLimit: HOURLY_LIMIT,
        pauseMs: PAUSE_MS,
        timezone: hour.timezone,
        statuses: countBy(settled, (r) => r.status),
        arrivals: arrivals.length,
        minGapMs: Math.min(...gaps),
        medianGapMs: [...gaps].sort((a, b) => a - b)[Math.floor(gaps.length / 2)],
        bootMs: booted - started,
        sendMs: done - booted,
      }),
    );
  }, 240_000);
});
