// A 50,000-recipient campaign through GraphQL, timed from createCampaign (recipients stored) to
// startCampaign answering (routing, one QUEUED message per recipient in multi-row batches, jobs
// added after commit): `seconds` is to all QUEUED. ROLE=api: no worker drains the queue.
import { newAgency } from '../test/factories/accounts';
import { campaignInput, CREATE_CAMPAIGN } from '../test/factories/campaigns';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../test/factories/delivery-servers';
import { createTestApp } from '../test/utils/create-test-app';
import globalSetup from '../test/utils/global-setup';
import globalTeardown from '../test/utils/global-teardown';
import { SmtpSink } from '../test/utils/smtp-sink';
import { round, secondsSince } from './bench-utils';

const RECIPIENTS = 50_000;

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

    // startCampaign answers once every message is stored QUEUED and its job added.
    const start = await t.gqlOk<{ startCampaign: { status: string; stats: { queued: number } } }>(
      `mutation($id: ID!) { startCampaign(id: $id) { status stats { queued } } }`,
      { id: created.createCampaign.id },
    );
    const seconds = secondsSince(started);
    if (start.startCampaign.status !== 'SENDING' || start.startCampaign.stats.queued !== RECIPIENTS) throw new Error(`unexpected start result ${JSON.stringify(start)}`);
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
