// A 50,000-recipient campaign through GraphQL, timed from createCampaign (recipients stored) to
// startCampaign answering (routing, one QUEUED message per recipient in multi-row batches, jobs
// added after commit): `seconds` is to all QUEUED. ROLE=api: no worker drains the queue.
// startCampaign answers after its last chunk is committed and its jobs added, so the clock stops
// at the answer; the launch is then checked (checkLaunched: N rows QUEUED, launch cursor cleared,
// N jobs waiting) and the bench fails if it is short. A launch cut short is finished only by a
// worker, and none runs here: the check fails rather than waits. BENCH_ENQUEUE_N sets N (default
// 50,000).
import { newAgency } from '../test/factories/accounts';
import { campaignInput, CREATE_CAMPAIGN } from '../test/factories/campaigns';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../test/factories/delivery-servers';
import { createTestApp } from '../test/utils/create-test-app';
import globalSetup from '../test/utils/global-setup';
import globalTeardown from '../test/utils/global-teardown';
import { SmtpSink } from '../test/utils/smtp-sink';
import { checkLaunched, round, secondsSince, withDb } from './bench-utils';

const RECIPIENTS = Number(process.env.BENCH_ENQUEUE_N ?? 50_000);

export async function run(): Promise<Record<string, unknown>[]> {
  await globalSetup();
  const sink = new SmtpSink({ users: [SINK_USER] });
  await sink.start();
  const t = await createTestApp({ ROLE: 'api' });
  try {
    const agency = await newAgency(t);
    // Activation needs one passing test send (to the sink); nothing else reaches it here.
    const server = await createServer(t, smtpServerInput(agency.id, sink.port));
    await verifyAndActivate(t, server.id);
    const recipients = Array.from({ length: RECIPIENTS }, (_, i) => `subscriber.${i}@list${i % 97}.example.com`);

    const started = process.hrtime.bigint();
    const created = await t.gqlOk<{ createCampaign: { id: string } }>(CREATE_CAMPAIGN, { input: campaignInput(agency.id, { recipients }) });
    const createSeconds = secondsSince(started);

    // startCampaign answers once every message is stored QUEUED and its job added (or once a
    // chunk failed: the answer is SENDING either way, which the checks below catch).
    const start = await t.gqlOk<{ startCampaign: { status: string } }>(`mutation($id: ID!) { startCampaign(id: $id) { status } }`, { id: created.createCampaign.id });
    const seconds = secondsSince(started);
    if (start.startCampaign.status !== 'SENDING') throw new Error(`unexpected start result ${JSON.stringify(start)}`);
    await withDb(t.databaseUrl, (db) => checkLaunched(t, db, created.createCampaign.id, RECIPIENTS));
    const startSeconds = seconds - createSeconds;
    return [
      {
        bench: 'enqueue',
        recipients: RECIPIENTS,
        seconds: round(seconds),
        createCampaignSeconds: round(createSeconds),
        startCampaignSeconds: round(startSeconds),
        messagesPerSecond: Math.round(RECIPIENTS / seconds),
      },
    ];
  } finally {
    await t.close();
    await sink.stop();
    await globalTeardown();
  }
}
