import { Client } from 'pg';
import { newAgency } from '../factories/accounts';
import { campaignAct, newCampaign } from '../factories/campaigns';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../factories/delivery-servers';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { SmtpSink } from '../utils/smtp-sink';
import { waitFor } from '../utils/wait-for';

const STUCK_SENDING_MS = 1_000;
/** How long every message has, after startCampaign, to be claimed and SENDING (generous: a loaded box claims slowly). */
const CLAIM_MS = 10_000;
/**
 * Each send takes this long: many times the stuck threshold, many sweeps, and longer than
 * CLAIM_MS with room to spare, so the first send is still running when the last is claimed.
 */
const SEND_MS = CLAIM_MS + 5_000;
const MESSAGES = 4;

/**
 * The other side of taking back a dead worker's messages quickly: with STUCK_SENDING_MS far
 * shorter than a send, a live worker's slow sends are never taken from it (its job's lock is
 * renewed, and the sweeper leaves a locked job alone), so nothing is sent twice.
 */
describe('a send slower than STUCK_SENDING_MS', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let db: Client;

  beforeAll(async () => {
    sink = new SmtpSink({ users: [SINK_USER] });
    await sink.start();
    t = await createTestApp({ STUCK_SENDING_MS: String(STUCK_SENDING_MS), QUEUE_LOCK_MS: '2000', SWEEP_INTERVAL_MS: '200', WORKER_CONCURRENCY: String(MESSAGES) });
    db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
    await sink?.stop();
  });

  it('is not taken from the live worker that makes it: each message arrives once', async () => {
    const agency = await newAgency(t);
    const server = await createServer(t, smtpServerInput(agency.id, sink.port, { senderAddress: 'news@brand.example' }));
    await verifyAndActivate(t, server.id);
    sink.delayData(SEND_MS);
    const domain = 'slow.example';
    const campaign = await newCampaign(t, agency.id, { from: 'news@brand.example', recipients: Array.from({ length: MESSAGES }, (_v, i) => `reader${i}@${domain}`) });
    const started = Date.now();
    await campaignAct(t, 'startCampaign', campaign.id);

    const statuses = async (): Promise<string[]> => (await db.query<{ status: string }>('SELECT status::text AS status FROM messages WHERE campaign_id = $1', [campaign.id])).rows.map((r) => r.status);
    /** All MESSAGES of the campaign are in this status (not vacuously: the rows must exist). */
    const all = async (status: string): Promise<boolean> => {
      const now = await statuses();
      return now.length === MESSAGES && now.every((s) => s === status);
    };
    // While the sends run, the messages are SENDING for longer than the threshold, sweep after sweep.
    await waitFor('the messages to be SENDING past the stuck threshold', async () => Date.now() - started > 2 * STUCK_SENDING_MS && (await all('SENDING')), CLAIM_MS, 50);
    await waitFor('every message SENT', () => all('SENT'), SEND_MS + 15_000, 100);

    const arrived = sink.messages.flatMap((m) => m.envelope.to).filter((to) => to.endsWith(`@${domain}`));
    expect(arrived).toHaveLength(MESSAGES);
    expect(new Set(arrived).size).toBe(MESSAGES);
    const { rows: requeued } = await db.query(`SELECT 1 FROM message_events e JOIN messages m ON m.id = e.message_id WHERE m.campaign_id = $1 AND e.type = 'QUEUED' AND e.detail IS NOT NULL`, [
      campaign.id,
    ]);
    expect(requeued).toEqual([]);
    const { rows: attempts } = await db.query<{ attempts: number }>('SELECT attempts FROM messages WHERE campaign_id = $1', [campaign.id]);
    expect(attempts.map((r) => r.attempts)).toEqual(Array(MESSAGES).fill(1));
  }, 2 * SEND_MS + 30_000);
});
