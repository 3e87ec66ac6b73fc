// A 50,000-recipient campaign through GraphQL: createCampaign (recipients stored) and
// startCampaign (routing, one message per recipient in multi-row batches, jobs added after
// commit). ROLE=api: no worker drains the queue, so only accepting and enqueuing is timed.
import { newAgency } from '../test/factories/accounts';
import { campaignInput, CREATE_CAMPAIGN } from '../test/factories/campaigns';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../test/factories/delivery-servers';
import { createTestApp } from '../test/utils/create-test-app';
import globalSetup from '../test/utils/global-setup';
import globalTeardown from '../test/utils/global-teardown';
import { SmtpSink } from '../test/utils/smtp-sink';

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

    let started = process.hrtime.bigint();
    const created = await t.gqlOk<{ createCampaign: { id: string } }>(CREATE_CAMPAIGN, { input: campaignInput(agency.id, { recipients }) });
    const createSeconds = Number(process.hrtime.bigint() - started) / 1e9;

    started = process.hrtime.bigint();
    const start = await t.gqlOk<{ startCampaign: { status: string; stats: { queued: number } } }>(
      `mutation($id: ID!) { startCampaign(id: $id) { status stats { queued } } }`,
      { id: created.createCampaign.id },
    );
    const startSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (start.startCampaign.status !== 'SENDING' || start.startCampaign.stats.queued !== RECIPIENTS) throw new Error(`unexpected start result ${JSON.stringify(start)}`);
    return [
      { bench: 'enqueue', step: 'createCampaign', recipients: RECIPIENTS, seconds: round(createSeconds) },
      { bench: 'enqueue', step: 'startCampaign', recipients: RECIPIENTS, seconds: round(startSeconds), messagesPerSecond: Math.round(RECIPIENTS / startSeconds) },
    ];
  } finally {
    await t.close();
    await sink.stop();
    await globalTeardown();
  }
}

const round = (s: number): number => Math.round(s * 1000) / 1000;
