import type Redis from 'ioredis';
import { Client } from 'pg';
import { REDIS } from '../../src/infra/redis/redis.module';
import { quotaKeys } from '../../src/modules/quota/quota-keys';
import { DataSource } from 'typeorm';
import { CampaignEntity } from '../../src/modules/campaigns/campaign.entity';
import { DispatchQueue } from '../../src/modules/messages/dispatch-queue';
import { CampaignProgress } from '../../src/modules/campaigns/campaign-progress';
import { MessageSource } from '../../src/modules/messages/message.entity';
import { MessageStore } from '../../src/modules/messages/message-store';
import { newAgency } from '../factories/accounts';
import { campaignAct, type CampaignView, newCampaign, zeroStats } from '../factories/campaigns';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../factories/delivery-servers';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { SmtpSink } from '../utils/smtp-sink';
import { waitFor } from '../utils/wait-for';

interface CampaignMessage {
  id: string;
  to: string;
  status: string;
  source: string;
  error: { code: string } | null;
  campaign: { id: string; name: string } | null;
  events: { type: string }[];
}
const MESSAGES = `query($a: ID!, $c: ID!) { messages(accountId: $a, campaignId: $c, first: 500) { totalCount edges { node { id to status source error { code } campaign { id name } events { type } } } } }`;

/** Campaigns end to end: GraphQL in, the dispatch worker, an SMTP sink out. */
describe('campaign delivery', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let db: Client;
  let domains = 0;
  beforeAll(async () => {
    sink = new SmtpSink({ users: [SINK_USER] });
    await sink.start();
    // Two workers: at most two messages are in flight when a campaign is paused.
    t = await createTestApp({
      RETRY_BASE_MS: '100',
      SWEEP_INTERVAL_MS: '500',
      WORKER_CONCURRENCY: '2',
    });
    db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    await t.close();
    await sink.stop();
  });

  /** Recipients on a domain of their own, so the sink's messages of one test are easy to pick out. */
  const audience = (n: number): { domain: string; recipients: string[] } => {
    const domain = `list${++domains}.example`;
    return {
      domain,
      recipients: Array.from({ length: n }, (_, i) => `reader${i}@${domain}`),
    };
  };
  const received = (domain: string): string[] => sink.messages.flatMap((m) => m.envelope.to).filter((to) => to.endsWith(`@${domain}`));
  const read = (id: string): Promise<CampaignView> => campaignAct(t, 'campaign', id);
  const untilStatus = (id: string, status: string, timeoutMs = 15_000): Promise<CampaignView> =>
    waitFor(
      `campaign ${id} to be ${status}`,
      async () => {
        const c = await read(id);
        return c.status === status ? c : null;
      },
      timeoutMs,
    );
  const messagesOf = async (accountId: string, campaignId: string): Promise<CampaignMessage[]> =>
    (await t.gqlOk<{ messages: { edges: { node: CampaignMessage }[] } }>(MESSAGES, { a: accountId, c: campaignId })).messages.edges.map((e) => e.node);
  const statusCounts = async (campaignId: string): Promise<Record<string, number>> =>
    Object.fromEntries(
      (await db.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM messages WHERE campaign_id = $1 GROUP BY status', [campaignId])).rows.map((r) => [r.status, r.n]),
    );
  const setup = async (serverExtra: Record<string, unknown> = {}) => {
    const agency = await newAgency(t);
    const server = await createServer(t, smtpServerInput(agency.id, sink.port, serverExtra));
    await verifyAndActivate(t, server.id);
    return { agency, server };
  };
  const updateServer = (id: string, input: Record<string, unknown>) =>
    t.gqlOk(`mutation($id: ID!, $input: UpdateDeliveryServerInput!) { updateDeliveryServer(id: $id, input: $input) { id } }`, { id, input });

  it('sends every message exactly once, skips suppressed recipients, and completes with exact stats', async () => {
    const { agency } = await setup();
    const { domain, recipients } = audience(10);
    for (const email of recipients.slice(0, 2)) {
      await t.gqlOk(`mutation($a: ID!, $e: String!) { addSuppression(accountId: $a, email: $e) { email } }`, { a: agency.id, e: email.toUpperCase() });
    }
    const draft = await newCampaign(t, agency.id, { name: 'Ten', recipients });
    const started = await campaignAct(t, 'startCampaign', draft.id);
    expect(started.status).toMatch(/^(SENDING|COMPLETED)$/);
    expect(started.startedAt).not.toBeNull();
    expect(started.stats.total).toBe(10);
    expect(started.stats.suppressed).toBe(2);

    const done = await untilStatus(draft.id, 'COMPLETED');
    expect(done.completedAt).not.toBeNull();
    expect(Date.parse(done.completedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(done.startedAt ?? ''));
    expect(done.stats).toEqual(zeroStats({ total: 10, sent: 8, suppressed: 2 }));
    expect(received(domain).sort()).toEqual(recipients.slice(2).sort());
    // Every message carries the campaign's body, which is stored once, on the campaign.
    const arrived = sink.messages.filter((m) => m.envelope.to.some((to) => to.endsWith(`@${domain}`)));
    expect(arrived.every((m) => m.html.includes('<p>Hello</p>') && m.text.trim() === 'Hello')).toBe(true);
    const bodies = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM messages WHERE campaign_id = $1 AND (html IS NOT NULL OR text IS NOT NULL)', [draft.id]);
    expect(bodies.rows[0].n).toBe(0);

    const messages = await messagesOf(agency.id, draft.id);
    expect(messages).toHaveLength(10);
    for (const m of messages)
      expect(m).toMatchObject({
        source: 'CAMPAIGN',
        campaign: { id: draft.id, name: 'Ten' },
      });
    expect(
      messages
        .filter((m) => m.status === 'SUPPRESSED')
        .map((m) => [m.to, m.error?.code])
        .sort(),
    ).toEqual(recipients.slice(0, 2).map((to) => [to, 'SUPPRESSED']));
    for (const m of messages) expect(m.events.map((e) => e.type)).toEqual(m.status === 'SENT' ? ['QUEUED', 'ROUTED', 'SENT'] : ['REJECTED']);
    expect(
      (
        await t.gql(`mutation($id: ID!) { startCampaign(id: $id) { id } }`, {
          id: draft.id,
        })
      ).errors?.[0].extensions?.code,
    ).toBe('CONFLICT');
    expect(await statusCounts(draft.id)).toEqual({ SENT: 8, SUPPRESSED: 2 });
    for (const action of ['pauseCampaign', 'resumeCampaign']) {
      expect((await t.gql(`mutation($id: ID!) { ${action}(id: $id) { id } }`, { id: draft.id })).errors?.[0].extensions?.code).toBe('CONFLICT');
    }
  });

  it('starts once when two starts race: one wins, the other is a CONFLICT, and no message is doubled', async () => {
    const { agency } = await setup();
    const { domain, recipients } = audience(6);
    const draft = await newCampaign(t, agency.id, { recipients });
    const results = await Promise.all([1, 2].map(() => t.gql<{ startCampaign: { status: string } }>(`mutation($id: ID!) { startCampaign(id: $id) { status } }`, { id: draft.id })));
    expect(results.filter((r) => r.data?.startCampaign).length).toBe(1);
    expect(results.filter((r) => r.errors?.[0].extensions?.code === 'CONFLICT').length).toBe(1);
    const done = await untilStatus(draft.id, 'COMPLETED');
    expect(done.stats).toEqual(zeroStats({ total: 6, sent: 6 }));
    expect(received(domain).sort()).toEqual([...recipients].sort());
  });

  it('completes at once when every recipient is suppressed', async () => {
    const { agency } = await setup();
    const { domain, recipients } = audience(2);
    for (const email of recipients) await t.gqlOk(`mutation($a: ID!, $e: String!) { addSuppression(accountId: $a, email: $e) { email } }`, { a: agency.id, e: email });
    const draft = await newCampaign(t, agency.id, { recipients });
    const started = await campaignAct(t, 'startCampaign', draft.id);
    expect(started).toMatchObject({
      status: 'COMPLETED',
      stats: zeroStats({ total: 2, suppressed: 2 }),
    });
    expect(started.completedAt).not.toBeNull();
    expect(received(domain)).toEqual([]);
  });

  it('pauses on an unverified sender (SENDER_NOT_VERIFIED) and completes once resumed after the fix', async () => {
    const { agency, server } = await setup();
    const { domain, recipients } = audience(4);
    const draft = await newCampaign(t, agency.id, {
      from: 'someone@brand.example',
      recipients,
    });
    // Routing probes the sender (MAIL FROM + RCPT) before it accepts the campaign.
    sink.script({
      step: 'MAIL_FROM',
      code: 550,
      message: '5.7.1 Sender rejected',
      times: 1,
    });
    const paused = await campaignAct(t, 'startCampaign', draft.id);
    expect(paused).toMatchObject({
      status: 'PAUSED',
      pauseCode: 'SENDER_NOT_VERIFIED',
      startedAt: null,
      stats: zeroStats({ total: 4 }),
    });
    expect(paused.pauseReason).toContain('someone@brand.example');
    expect(await statusCounts(draft.id)).toEqual({});

    await updateServer(server.id, { senderAddress: 'verified@brand.example' });
    const resumed = await campaignAct(t, 'resumeCampaign', draft.id);
    expect(resumed).toMatchObject({ pauseCode: null, pauseReason: null });
    expect(resumed.startedAt).not.toBeNull();
    const done = await untilStatus(draft.id, 'COMPLETED');
    expect(done.stats).toEqual(zeroStats({ total: 4, sent: 4 }));
    expect(received(domain).sort()).toEqual([...recipients].sort());
    expect(sink.messages.filter((m) => m.envelope.to.some((to) => to.endsWith(`@${domain}`))).every((m) => m.from.includes('verified@brand.example'))).toBe(true);
  });

  it('pauses itself when the server refuses the sender mid-campaign, and resumes to completion', async () => {
    const { agency } = await setup();
    const { domain, recipients } = audience(5);
    // A one-off from the same From warms routing's sender check, so the campaign is accepted
    // and the refusal comes from the send itself (the server changed under the campaign).
    const warm = await t.gqlOk<{ sendEmail: { id: string } }>(`mutation($input: SendEmailInput!) { sendEmail(input: $input) { id } }`, {
      input: { accountId: agency.id, from: 'news@brand.example', to: `warm@${domain}.other`, subject: 'Warm', text: 'warm' },
    });
    await waitFor('the warm-up to be sent', async () => (await db.query<{ status: string }>('SELECT status FROM messages WHERE id = $1', [warm.sendEmail.id])).rows[0]?.status === 'SENT');
    sink.script({ step: 'MAIL_FROM', code: 550, message: '5.7.1 Sender rejected', times: 1 });
    const draft = await newCampaign(t, agency.id, { recipients });
    await campaignAct(t, 'startCampaign', draft.id);
    const paused = await untilStatus(draft.id, 'PAUSED');
    expect(paused.pauseCode).toBe('SENDER_NOT_VERIFIED');
    expect(paused.pauseReason).toContain('news@brand.example');
    await waitFor('the refused message to be handed back', async () => !(await statusCounts(draft.id)).SENDING);

    // Still refused: the resume asks the server again (its cached "verified" is what failed) and stays PAUSED.
    sink.script({ step: 'MAIL_FROM', code: 550, message: '5.7.1 Sender rejected', times: 1 });
    const refused = await campaignAct(t, 'resumeCampaign', draft.id);
    expect(refused).toMatchObject({ status: 'PAUSED', pauseCode: 'SENDER_NOT_VERIFIED' });

    const resumed = await campaignAct(t, 'resumeCampaign', draft.id);
    expect(resumed).toMatchObject({ pauseCode: null, pauseReason: null });
    const done = await untilStatus(draft.id, 'COMPLETED');
    expect(done.stats).toEqual(zeroStats({ total: 5, sent: 5 }));
    expect(received(domain).sort()).toEqual([...recipients].sort());
  });

  it('stays PAUSED with NO_ROUTE while the route is still refused, and sends after the server allows the domain', async () => {
    const { agency, server } = await setup({ sendingDomain: 'other.example' });
    const { domain, recipients } = audience(3);
    const draft = await newCampaign(t, agency.id, { recipients });
    expect(await campaignAct(t, 'startCampaign', draft.id)).toMatchObject({
      status: 'PAUSED',
      pauseCode: 'NO_ROUTE',
    });
    const still = await campaignAct(t, 'resumeCampaign', draft.id);
    expect(still).toMatchObject({ status: 'PAUSED', pauseCode: 'NO_ROUTE' });
    expect(still.pauseReason).toMatch(/sends only for|other\.example/);

    await updateServer(server.id, { sendingDomain: null });
    await campaignAct(t, 'resumeCampaign', draft.id);
    const done = await untilStatus(draft.id, 'COMPLETED');
    expect(done.stats).toEqual(zeroStats({ total: 3, sent: 3 }));
    expect(received(domain).sort()).toEqual([...recipients].sort());
  });

  it('pauses a running campaign (nothing more is sent while PAUSED) and resumes it to completion', async () => {
    const { agency } = await setup({ pauseMs: 150 });
    const { domain, recipients } = audience(14);
    const draft = await newCampaign(t, agency.id, { recipients });
    await campaignAct(t, 'startCampaign', draft.id);
    await waitFor('a few messages sent', async () => received(domain).length >= 3);
    const paused = await campaignAct(t, 'pauseCampaign', draft.id);
    expect(paused).toMatchObject({ status: 'PAUSED', pauseCode: null });
    const atPause = received(domain).length;

    // The in-flight sends finish; every other pending message is handed back and waits as QUEUED.
    const settled = await waitFor('pending messages to settle as QUEUED', async () => {
      const counts = await statusCounts(draft.id);
      return !counts.SENDING && !counts.DEFERRED && counts.QUEUED ? counts : null;
    });
    const sentWhilePausing = received(domain).length;
    expect(sentWhilePausing - atPause).toBeLessThanOrEqual(2); // at most the two in flight
    expect(settled.SENT).toBe(sentWhilePausing);
    expect(settled.QUEUED).toBe(14 - sentWhilePausing);

    // The worker keeps serving other mail meanwhile; the paused campaign's mail still waits.
    const other = await setup();
    const oneOff = await t.gqlOk<{ sendEmail: { id: string } }>(`mutation($input: SendEmailInput!) { sendEmail(input: $input) { id } }`, {
      input: {
        accountId: other.agency.id,
        from: 'news@brand.example',
        to: `probe@${domain}.other`,
        subject: 'Probe',
        text: 'probe',
      },
    });
    await waitFor('the one-off to be sent', async () => {
      const { rows } = await db.query<{ status: string }>('SELECT status FROM messages WHERE id = $1', [oneOff.sendEmail.id]);
      return rows[0]?.status === 'SENT';
    });
    expect(received(domain).length).toBe(sentWhilePausing);
    expect((await read(draft.id)).stats).toMatchObject({
      total: 14,
      sent: sentWhilePausing,
      queued: 14 - sentWhilePausing,
    });

    const resumed = await campaignAct(t, 'resumeCampaign', draft.id);
    expect(resumed.status).toMatch(/^(SENDING|COMPLETED)$/);
    const done = await untilStatus(draft.id, 'COMPLETED', 20_000);
    expect(done.stats).toEqual(zeroStats({ total: 14, sent: 14 }));
    expect(received(domain).sort()).toEqual([...recipients].sort()); // each exactly once
  }, 30_000);

  it("a paused campaign's mail gives up its places in the server's waiting line: other mail to the server is not held behind it", async () => {
    const pauseMs = 3_000;
    const { agency, server } = await setup({ pauseMs });
    const { domain, recipients } = audience(6);
    const draft = await newCampaign(t, agency.id, { recipients });
    await campaignAct(t, 'startCampaign', draft.id);
    // The verifying test email just went: every message waits, most of them in the line, seconds apart.
    const line = quotaKeys.paceLine(t.config.redis.prefix, server.id);
    const redis = t.app.get<Redis>(REDIS);
    // Every message of it waiting (none still on its way into the line), all six in the line.
    await waitFor('the campaign waiting in the line', async () => (await statusCounts(draft.id)).DEFERRED === 6 && (await redis.zcard(line)) === 6, 10_000);
    await campaignAct(t, 'pauseCampaign', draft.id);
    expect(await redis.zcard(line)).toBe(0);

    // Mail sent to the same server now waits for one pause at most, not behind the paused places.
    const started = Date.now();
    const oneOff = await t.gqlOk<{ sendEmail: { id: string } }>(`mutation($input: SendEmailInput!) { sendEmail(input: $input) { id } }`, {
      input: { accountId: agency.id, from: 'news@brand.example', to: `probe@${domain}`, subject: 'Probe', text: 'probe' },
    });
    await waitFor('the one-off to be sent', async () => {
      const { rows } = await db.query<{ status: string }>('SELECT status FROM messages WHERE id = $1', [oneOff.sendEmail.id]);
      return rows[0]?.status === 'SENT';
    }, 15_000);
    // Behind the paused campaign's places it would have waited four pauses or more (12 s).
    expect(Date.now() - started).toBeLessThan(2 * pauseMs + 2_000);
  }, 30_000);

  it('finishes a launch cut short: the rest of the messages are written once and sent, and the campaign completes only after', async () => {
    const { agency } = await setup();
    const { domain, recipients } = audience(5);
    const draft = await newCampaign(t, agency.id, { recipients });
    const sorted = [...recipients].sort();
    // What a start leaves when its process dies after its first chunk: SENDING, the cursor at the
    // last recipient written, and those recipients' messages (final here: suppressed).
    const dataSource = t.app.get(DataSource);
    const entity = await dataSource.getRepository(CampaignEntity).findOneByOrFail({ id: draft.id });
    const content = { accountId: entity.accountId, campaignId: entity.id, source: MessageSource.CAMPAIGN, from: entity.from, replyTo: null, subject: entity.subject, html: entity.html, text: entity.text, headers: null };
    await t.app.get(MessageStore).accept(content, sorted.slice(0, 2).map((to) => ({ to, suppressed: true })));
    await db.query(`UPDATE campaigns SET status = 'SENDING', started_at = now(), launch_cursor = $2, updated_at = now() WHERE id = $1`, [draft.id, sorted[1]]);

    // Every message written so far is final, yet recipients remain: not COMPLETED.
    await t.app.get(CampaignProgress).completeFinished();
    const midway = await read(draft.id);
    expect(midway.status).toBe('SENDING');
    expect(midway.stats).toEqual(zeroStats({ total: 5, queued: 3, suppressed: 2 }));

    // The launch's writer is gone (its cursor has not moved for an hour): a worker takes over.
    await db.query(`UPDATE campaigns SET updated_at = now() - interval '1 hour' WHERE id = $1`, [draft.id]);
    const done = await untilStatus(draft.id, 'COMPLETED');
    expect(done.stats).toEqual(zeroStats({ total: 5, sent: 3, suppressed: 2 }));
    expect(received(domain).sort()).toEqual(sorted.slice(2)); // each exactly once
    const perRecipient = await db.query<{ to_address: string; n: number }>(
      'SELECT to_address, count(*)::int AS n FROM messages WHERE campaign_id = $1 GROUP BY to_address ORDER BY to_address',
      [draft.id],
    );
    expect(perRecipient.rows).toEqual(sorted.map((to) => ({ to_address: to, n: 1 })));
    expect((await db.query('SELECT launch_cursor FROM campaigns WHERE id = $1', [draft.id])).rows[0].launch_cursor).toBeNull();
  }, 30_000);

  it('starts a campaign larger than one launch chunk: every recipient gets exactly one message', async () => {
    const { agency } = await setup();
    const { recipients } = audience(2_100); // three chunks of at most 1,000
    const draft = await newCampaign(t, agency.id, { recipients });
    const started = await campaignAct(t, 'startCampaign', draft.id);
    expect(started.stats.total).toBe(2_100);
    // Only the messages matter here, not their sending.
    await campaignAct(t, 'pauseCampaign', draft.id);
    const rows = await db.query<{ recipients: number; messages: number; cursor: string | null }>(
      `SELECT count(DISTINCT to_address)::int AS recipients, count(*)::int AS messages,
              (SELECT launch_cursor FROM campaigns WHERE id = $1) AS cursor
         FROM messages WHERE campaign_id = $1`,
      [draft.id],
    );
    expect(rows.rows[0]).toEqual({ recipients: 2_100, messages: 2_100, cursor: null });
    // Its jobs would keep this file's two-slot worker busy claiming and handing back paused
    // messages well into the next test: take them out of the queue (a job the worker took
    // meanwhile is locked and cannot be removed; it is handed back at once anyway).
    const queue = t.app.get(DispatchQueue).queue;
    const ids = new Set((await db.query<{ id: string }>('SELECT id FROM messages WHERE campaign_id = $1', [draft.id])).rows.map((r) => r.id));
    await Promise.all((await queue.getWaiting()).filter((job) => ids.has(job.data.messageId)).map((job) => job.remove().catch(() => undefined)));
  }, 30_000);

  it('a start whose message writing fails part-way answers SENDING, and a worker finishes the launch', async () => {
    const { agency } = await setup();
    const { domain, recipients } = audience(150); // a first chunk of 100, then the rest
    const draft = await newCampaign(t, agency.id, { recipients });
    const sorted = [...recipients].sort();
    // A real database failure in the second chunk: a trigger refusing one recipient's message.
    const poisoned = sorted[120];
    await db.query(`CREATE FUNCTION refuse_poisoned() RETURNS trigger AS $$
      BEGIN IF NEW.to_address = '${poisoned}' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`);
    await db.query('CREATE TRIGGER refuse_poisoned BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse_poisoned()');
    try {
      const started = await campaignAct(t, 'startCampaign', draft.id);
      expect(started.status).toBe('SENDING');
      expect(started.stats.total).toBe(150); // written or still to write
      expect(await statusCounts(draft.id).then((c) => Object.values(c).reduce((a, b) => a + b, 0))).toBe(100);
    } finally {
      await db.query('DROP TRIGGER refuse_poisoned ON messages');
      await db.query('DROP FUNCTION refuse_poisoned()');
    }
    await db.query(`UPDATE campaigns SET updated_at = now() - interval '1 hour' WHERE id = $1`, [draft.id]);
    const done = await untilStatus(draft.id, 'COMPLETED', 30_000);
    expect(done.stats).toEqual(zeroStats({ total: 150, sent: 150 }));
    expect(received(domain).sort()).toEqual(sorted); // each exactly once
  }, 60_000);
});
