import { Client } from 'pg';
import { DispatchQueue, jobIdOf } from '../../src/modules/messages/dispatch-queue';
import type Redis from 'ioredis';
import { REDIS } from '../../src/infra/redis/redis.module';
import { DispatchService } from '../../src/modules/messages/dispatch.service';
import { RoutingService } from '../../src/modules/routing/routing.service';
import { MessageStore } from '../../src/modules/messages/message-store';
import { CIRCUIT_FAILURES, CircuitBreaker } from '../../src/modules/routing/circuit-breaker';
import { DeliveryErrorCode } from '../../src/providers/provider.enums';
import { newAgency, newSubAccount } from '../factories/accounts';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../factories/delivery-servers';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { awayFromTurn, quietHour } from '../utils/quiet-clock';
import { SmtpSink } from '../utils/smtp-sink';
import { waitFor } from '../utils/wait-for';

/**
 * Dispatch jobs driven by hand through DispatchService (an API-only app runs no worker), one
 * right after another: what a job does is seen without a worker racing the test.
 *
 * The worker holds a routing answer for a moment (here a minute) and shares it with the next
 * jobs of the same account and From, so a held answer that should not have been used shows up
 * as mail sent through the wrong server or refused for nothing.
 */
describe('dispatch jobs', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let db: Client;
  let dispatch: DispatchService;
  let queue: DispatchQueue;
  beforeAll(async () => {
    sink = new SmtpSink({ users: [SINK_USER] });
    await sink.start();
    // Answers held for a minute: a job that should not have used one surely finds it held.
    // Counters rebuilt from the ledger are counted again soon after, not minutes later.
    t = await createTestApp({ ROLE: 'api' }, { dispatch: { routeHoldMs: 60_000 }, quota: { reconcileAfterMs: [500, 3_000] } });
    db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    dispatch = t.app.get(DispatchService);
    queue = t.app.get(DispatchQueue);
  });
  /** Sinks a test stops itself; stopped here too in case it failed before (stopping twice is a no-op). */
  const extraSinks: SmtpSink[] = [];
  afterAll(async () => {
    for (const extra of extraSinks) await extra.stop();
    await db.end();
    await t.close();
    await sink.stop();
  });

  const send = async (accountId: string): Promise<string> => {
    const input = { accountId, from: 'news@brand.example', to: `reader-${Math.random().toString(36).slice(2)}@example.com`, subject: 'Held', text: 'Hi' };
    return (await t.gqlOk<{ sendEmail: { id: string } }>(`mutation($input: SendEmailInput!) { sendEmail(input: $input) { id } }`, { input })).sendEmail.id;
  };
  const row = async (id: string) =>
    (await db.query<{ status: string; server_id: string | null; dispatch_seq: number; updated_at: Date }>('SELECT status, server_id, dispatch_seq, updated_at FROM messages WHERE id = $1', [id])).rows[0];
  /** Runs the message's current job the way the worker would, with the data it was queued with. */
  const runJob = async (id: string): Promise<void> => {
    const job = await queue.queue.getJob(jobIdOf(id, (await row(id)).dispatch_seq));
    if (!job) throw new Error(`no job queued for message ${id}`);
    await dispatch.process(job.data);
    // The SENT record is written after the job ends: wait for it like the worker's shutdown would.
    await waitFor(`message ${id} recorded`, async () => (await row(id)).status !== 'SENDING', 10_000, 10);
  };
  /** A verified, active SMTP server of the account. */
  const activeServer = async (accountId: string, name: string, port = sink.port): Promise<string> => {
    const server = await createServer(t, smtpServerInput(accountId, port, { name }));
    await verifyAndActivate(t, server.id);
    return server.id;
  };
  const makeDefault = (id: string) => t.gqlOk(`mutation($id: ID!) { setDefaultSmtp(id: $id, scope: ACCOUNT) { id } }`, { id });
  const pauseServer = (id: string) => t.gqlOk(`mutation($id: ID!) { pauseDeliveryServer(id: $id) { id } }`, { id });
  /** Units of the server's current hour in use, as `usage` reports them. */
  const hourlyUsed = async (serverId: string): Promise<number> =>
    (await t.gqlOk<{ deliveryServer: { usage: { hourly: { used: number } } } }>(`query($id: ID!) { deliveryServer(id: $id) { usage { hourly { used } } } }`, { id: serverId })).deliveryServer
      .usage.hourly.used;
  /** The message waits for this server (as after a temporary failure there), until paused or deleted. */
  const deferTo = (messageId: string, serverId: string) =>
    db.query(`UPDATE messages SET status = 'DEFERRED', server_id = $2, next_attempt_at = now() + interval '1 hour' WHERE id = $1`, [messageId, serverId]);

  it('routes mail moved off a paused server afresh, not with the answer held for that server', async () => {
    const agency = await newAgency(t);
    const first = await activeServer(agency.id, 'First');
    const second = await activeServer(agency.id, 'Second');
    await makeDefault(first);
    const sentFirst = await send(agency.id);
    const waiting = await send(agency.id);
    await deferTo(waiting, first);

    await runJob(sentFirst); // the answer "first server" is now held
    expect(await row(sentFirst)).toMatchObject({ status: 'SENT', server_id: first });
    await pauseServer(first);
    const rerouted = await queue.queue.getJob(jobIdOf(waiting, (await row(waiting)).dispatch_seq));
    expect(rerouted?.data).toMatchObject({ messageId: waiting, rerouteId: expect.any(String) });
    await runJob(waiting);
    expect(await row(waiting)).toMatchObject({ status: 'SENT', server_id: second });
  });

  it('a paused server\'s backlog larger than one re-route chunk (2,000) is routed again whole, as one move', async () => {
    const agency = await newAgency(t);
    const busy = await activeServer(agency.id, 'Busy');
    await activeServer(agency.id, 'Spare');
    await makeDefault(busy);
    const first = await send(agency.id);
    await deferTo(first, busy);
    // 2,100 more like it, waiting for the same server.
    await db.query(
      `INSERT INTO messages (id, account_id, source, from_address, subject, text, to_address, status, server_id, next_attempt_at, attempts, dispatch_seq)
       SELECT gen_random_uuid(), account_id, source, from_address, subject, text, 'r' || n || '@example.com', status, server_id, next_attempt_at, 0, 0
         FROM messages, generate_series(1, 2100) AS n WHERE id = $1`,
      [first],
    );
    await pauseServer(busy);
    const moved = await db.query<{ id: string; status: string; dispatch_seq: number }>('SELECT id, status, dispatch_seq FROM messages WHERE account_id = $1', [agency.id]);
    expect(moved.rows).toHaveLength(2101);
    expect(moved.rows.filter((r) => r.status !== 'QUEUED')).toEqual([]);
    const jobs = await Promise.all(moved.rows.map((r) => queue.queue.getJob(jobIdOf(r.id, r.dispatch_seq))));
    expect(jobs.filter((j) => !j)).toHaveLength(0);
    expect(new Set(jobs.map((j) => (j?.data as { rerouteId?: string }).rerouteId)).size).toBe(1);
  }, 60_000);

  it('does not hold a refusal: a server activated right after a NO_ROUTE serves the next message', async () => {
    const agency = await newAgency(t);
    const only = await activeServer(agency.id, 'Only');
    const refused = await send(agency.id);
    const next = await send(agency.id);
    await pauseServer(only);

    await runJob(refused);
    expect(await row(refused)).toMatchObject({ status: 'REJECTED' });
    await t.gqlOk(`mutation($id: ID!) { activateDeliveryServer(id: $id) { id } }`, { id: only });
    await runJob(next);
    expect(await row(next)).toMatchObject({ status: 'SENT', server_id: only });
  });

  it("leaves a paused campaign's mail untouched: its jobs end without a write, and resume sends it", async () => {
    const agency = await newAgency(t);
    const server = await activeServer(agency.id, 'Campaign relay');
    const input = { accountId: agency.id, name: 'Paused', from: 'news@brand.example', subject: 'Paused', text: 'Hi', recipients: ['one@example.com', 'two@example.com'] };
    const campaign = (await t.gqlOk<{ createCampaign: { id: string } }>(`mutation($input: CreateCampaignInput!) { createCampaign(input: $input) { id } }`, { input })).createCampaign;
    await t.gqlOk(`mutation($id: ID!) { startCampaign(id: $id) { id } }`, { id: campaign.id });
    await t.gqlOk(`mutation($id: ID!) { pauseCampaign(id: $id) { id } }`, { id: campaign.id });
    const ids = (await db.query<{ id: string }>('SELECT id FROM messages WHERE campaign_id = $1 ORDER BY id', [campaign.id])).rows.map((r) => r.id);
    expect(ids).toHaveLength(2);
    const before = await row(ids[0]);
    await runJob(ids[0]);
    expect(await row(ids[0])).toEqual(before); // not claimed and handed back: not written at all
    const events = await db.query('SELECT type FROM message_events WHERE message_id = $1', [ids[0]]);
    expect(events.rows.map((e: { type: string }) => e.type)).toEqual(['QUEUED']);

    await t.gqlOk(`mutation($id: ID!) { resumeCampaign(id: $id) { id } }`, { id: campaign.id });
    for (const id of ids) await runJob(id);
    for (const id of ids) expect(await row(id)).toMatchObject({ status: 'SENT', server_id: server });
  });

  it('completes a campaign paused while its last message was being sent: nothing is left to resume', async () => {
    const slow = new SmtpSink({ users: [SINK_USER] });
    extraSinks.push(slow);
    await slow.start();
    slow.delayData(1_500);
    const agency = await newAgency(t);
    await activeServer(agency.id, 'Slow relay', slow.port);
    const input = { accountId: agency.id, name: 'Last in flight', from: 'news@brand.example', subject: 'Last', text: 'Hi', recipients: ['last@example.com'] };
    const campaign = (await t.gqlOk<{ createCampaign: { id: string } }>(`mutation($input: CreateCampaignInput!) { createCampaign(input: $input) { id } }`, { input })).createCampaign;
    await t.gqlOk(`mutation($id: ID!) { startCampaign(id: $id) { id } }`, { id: campaign.id });
    const [{ id }] = (await db.query<{ id: string }>('SELECT id FROM messages WHERE campaign_id = $1', [campaign.id])).rows;
    const job = await queue.queue.getJob(jobIdOf(id, (await row(id)).dispatch_seq));
    const sending = dispatch.process(job!.data);
    await waitFor('the message claimed', async () => (await row(id)).status === 'SENDING', 10_000, 10);
    await t.gqlOk(`mutation($id: ID!) { pauseCampaign(id: $id) { id } }`, { id: campaign.id });
    await sending;
    await waitFor(`message ${id} recorded`, async () => (await row(id)).status === 'SENT', 10_000, 10);
    const read = `query($id: ID!) { campaign(id: $id) { status completedAt stats { sent queued } } }`;
    await waitFor('campaign completed', async () => (await t.gqlOk<{ campaign: { status: string } }>(read, { id: campaign.id })).campaign.status === 'COMPLETED', 10_000);
    expect((await t.gqlOk<{ campaign: unknown }>(read, { id: campaign.id })).campaign).toMatchObject({ status: 'COMPLETED', completedAt: expect.any(String), stats: { sent: 1, queued: 0 } });
  });

  it("asks the provider again before pausing a campaign on a sender refusal it remembers (the campaign may have been resumed since the fix)", async () => {
    const agency = await newAgency(t);
    await activeServer(agency.id, 'Remembering relay');
    const input = { accountId: agency.id, name: 'Remembered', from: 'news@brand.example', subject: 'Hi', text: 'Hi', recipients: ['fixed@example.com'] };
    const campaign = (await t.gqlOk<{ createCampaign: { id: string } }>(`mutation($input: CreateCampaignInput!) { createCampaign(input: $input) { id } }`, { input })).createCampaign;
    await t.gqlOk(`mutation($id: ID!) { startCampaign(id: $id) { id } }`, { id: campaign.id });
    // This process learns a refusal of the sender (as a worker would from an earlier send), and the server then accepts it again.
    sink.script({ step: 'MAIL_FROM', code: 550, message: '5.7.1 Sender rejected', times: 1 });
    expect((await t.app.get(RoutingService).route(agency.id, 'news@brand.example', new Date(), { freshSenderCheck: true })).code).toBe('SENDER_NOT_VERIFIED');
    const [{ id }] = (await db.query<{ id: string }>('SELECT id FROM messages WHERE campaign_id = $1', [campaign.id])).rows;
    await runJob(id);
    expect(await row(id)).toMatchObject({ status: 'SENT' });
    const { rows } = await db.query<{ status: string }>('SELECT status FROM campaigns WHERE id = $1', [campaign.id]);
    expect(rows[0].status).not.toBe('PAUSED');
  });

  it('does not send to a recipient suppressed after the message was accepted: SUPPRESSED, and the campaign completes', async () => {
    const agency = await newAgency(t);
    await activeServer(agency.id, 'Suppressing relay');
    const input = { accountId: agency.id, name: 'Late suppression', from: 'news@brand.example', subject: 'Late', text: 'Hi', recipients: ['kept@example.com', 'Complained@Example.com'] };
    const campaign = (await t.gqlOk<{ createCampaign: { id: string } }>(`mutation($input: CreateCampaignInput!) { createCampaign(input: $input) { id } }`, { input })).createCampaign;
    await t.gqlOk(`mutation($id: ID!) { startCampaign(id: $id) { id } }`, { id: campaign.id });
    const ids = (await db.query<{ id: string; to_address: string }>('SELECT id, to_address FROM messages WHERE campaign_id = $1', [campaign.id])).rows;
    expect(ids).toHaveLength(2);
    // Suppressed while its message waits in the queue (as a complaint about another campaign would).
    await t.gqlOk(`mutation($a: ID!, $e: String!) { addSuppression(accountId: $a, email: $e) { email } }`, { a: agency.id, e: 'complained@example.com' });

    for (const { id } of ids) await runJob(id);

    const suppressed = ids.find((r) => r.to_address === 'complained@example.com')!.id;
    const kept = ids.find((r) => r.to_address === 'kept@example.com')!.id;
    expect(await row(kept)).toMatchObject({ status: 'SENT' });
    const { rows } = await db.query<{ status: string; error: { code: string; message: string } }>('SELECT status, error FROM messages WHERE id = $1', [suppressed]);
    expect(rows[0]).toMatchObject({ status: 'SUPPRESSED', error: { code: 'SUPPRESSED', message: 'complained@example.com is suppressed for this account' } });
    const events = await db.query<{ type: string }>('SELECT type FROM message_events WHERE message_id = $1 ORDER BY id', [suppressed]);
    expect(events.rows.map((e) => e.type)).toEqual(['QUEUED', 'REJECTED']);
    expect(sink.messages.filter((m) => m.to.includes('complained@example.com'))).toEqual([]);
    expect(sink.messages.filter((m) => m.to.includes('kept@example.com'))).toHaveLength(1);
    const stats = `query($id: ID!) { campaign(id: $id) { status stats { sent suppressed } } }`;
    await waitFor('campaign completed', async () => (await t.gqlOk<{ campaign: { status: string } }>(stats, { id: campaign.id })).campaign.status === 'COMPLETED', 10_000);
    expect((await t.gqlOk<{ campaign: unknown }>(stats, { id: campaign.id })).campaign).toEqual({ status: 'COMPLETED', stats: { sent: 1, suppressed: 1 } });
  });

  it('gives the quota unit back when a send fails before the message was handed over (a 421 greeting)', async () => {
    const busy = new SmtpSink({ users: [SINK_USER] });
    extraSinks.push(busy);
    await busy.start();
    // A clock whose hour does not turn while the test counts the hour's units.
    const agency = await newAgency(t, { timezone: quietHour().timezone });
    const server = await createServer(t, smtpServerInput(agency.id, busy.port, { name: 'Busy relay', quota: { hourly: 2 } }));
    await verifyAndActivate(t, server.id);
    const used = () => hourlyUsed(server.id);
    // A first message: the sender is checked (and remembered) and the pool is open.
    const first = await send(agency.id);
    await runJob(first);
    expect(await row(first)).toMatchObject({ status: 'SENT' });
    // Then the next connection is refused at its greeting (the pool's open one is closed first).
    busy.script({ step: 'GREETING', code: 421, message: '4.7.0 Too many connections, try again later', times: 1 });
    busy.closeConnections();
    const id = await send(agency.id);

    await runJob(id);
    expect(await row(id)).toMatchObject({ status: 'DEFERRED' });
    expect(await used()).toBe(1);
    // The second unit of the hour is still there for the retry.
    await runJob(id);
    expect(await row(id)).toMatchObject({ status: 'SENT', server_id: server.id });
    expect(await used()).toBe(2);
  });

  it("does not spend quota on a server whose stored credentials this worker's keys do not open, nor blame the server: retried later", async () => {
    const agency = await newAgency(t, { timezone: quietHour().timezone });
    const server = await createServer(t, smtpServerInput(agency.id, sink.port, { name: 'Sealed away', quota: { hourly: 1 } }));
    await verifyAndActivate(t, server.id);
    // Sealed under a key this app does not hold (CREDENTIALS_KEY replaced without the old one kept).
    await db.query(`UPDATE delivery_servers SET sealed_credentials = jsonb_set(sealed_credentials, '{k}', '"0000dead"') WHERE id = $1`, [server.id]);
    const id = await send(agency.id);
    await runJob(id);
    const { rows } = await db.query<{ status: string; attempts: number; error: { code: string; message: string } }>('SELECT status, attempts, error FROM messages WHERE id = $1', [id]);
    // Not an attempt: nothing was sent, and a worker holding the key may send it next.
    expect(rows[0]).toMatchObject({ status: 'DEFERRED', attempts: 0, error: { code: 'PROVIDER_ERROR' } });
    expect(rows[0].error.message).toContain('could not open the stored credentials');
    // Not counted against the server: a worker that holds the key may send through it.
    expect(await t.app.get(CircuitBreaker).states([server.id])).toEqual([{ openUntil: null, failing: false }]);
    expect(await hourlyUsed(server.id)).toBe(0);
  });

  it('rebuilds a quota counter Redis lost without forgetting the send in flight at that moment: the window keeps its limit', async () => {
    const slow = new SmtpSink({ users: [SINK_USER] });
    extraSinks.push(slow);
    await slow.start();
    const agency = await newAgency(t, { timezone: quietHour().timezone });
    const server = await createServer(t, smtpServerInput(agency.id, slow.port, { name: 'Rebuilt relay', quota: { hourly: 3 } }));
    await verifyAndActivate(t, server.id);
    const used = () => hourlyUsed(server.id);
    await runJob(await send(agency.id)); // the sender checked, the pool open: 1 of 3
    slow.delayData(1_500);
    const inFlight = await send(agency.id);
    const job = await queue.queue.getJob(jobIdOf(inFlight, (await row(inFlight)).dispatch_seq));
    const sending = dispatch.process(job!.data);
    await waitFor('the second unit taken', async () => (await used()) === 2, 10_000, 10);
    // Redis loses the server's counters while that send is with the provider.
    const redis = t.app.get<Redis>(REDIS);
    const keys = await redis.keys(`${t.config.redis.prefix}:quota:{${server.id}}:*`);
    expect(keys.length).toBeGreaterThan(0);
    await redis.del(...keys);
    const third = await send(agency.id);
    await runJob(third); // rebuilt from the one send recorded: the one in flight is not yet
    await sending;
    await waitFor(`message ${inFlight} recorded`, async () => (await row(inFlight)).status === 'SENT', 10_000, 10);
    // Counted again once the send in flight is recorded: three of three.
    await waitFor('the rebuilt counter to count the send that was in flight', async () => (await used()) === 3, 10_000, 50);
    const fourth = await send(agency.id);
    await runJob(fourth);
    expect(await row(fourth)).toMatchObject({ status: 'DEFERRED', server_id: server.id });
    expect(await row(third)).toMatchObject({ status: 'SENT' });
    expect(slow.messages.filter((m) => m.subject === 'Held')).toHaveLength(3);
  });

  it('routes mail waiting for a full server again at once when its limit is raised, and when new credentials pause it', async () => {
    // A clock whose hour does not turn while the test runs: a full server stays full.
    const agency = await newAgency(t, { timezone: quietHour().timezone });
    const server = await createServer(t, smtpServerInput(agency.id, sink.port, { name: 'Limited relay', quota: { hourly: 1 } }));
    await verifyAndActivate(t, server.id);
    const [first, waiting] = [await send(agency.id), await send(agency.id)];
    await runJob(first);
    await runJob(waiting);
    expect(await row(waiting)).toMatchObject({ status: 'DEFERRED', server_id: server.id });
    const updateQuota = `mutation($id: ID!, $input: UpdateDeliveryServerInput!) { updateDeliveryServer(id: $id, input: $input) { id } }`;

    // Raised: the message no longer waits for the next hour.
    await t.gqlOk(updateQuota, { id: server.id, input: { quota: { hourly: 2 } } });
    expect(await row(waiting)).toMatchObject({ status: 'QUEUED' });
    await runJob(waiting);
    expect(await row(waiting)).toMatchObject({ status: 'SENT', server_id: server.id });

    // Full again, then paused by new credentials: the waiting message leaves it now.
    const third = await send(agency.id);
    await runJob(third);
    expect(await row(third)).toMatchObject({ status: 'DEFERRED', server_id: server.id });
    const other = await activeServer(agency.id, 'Other relay');
    await t.gqlOk(updateQuota, { id: server.id, input: { credentials: { smtp: { host: '127.0.0.1', port: sink.port, security: 'NONE', username: SINK_USER.user, password: 'a-rotated-password' } } } });
    expect(await row(third)).toMatchObject({ status: 'QUEUED' });
    await runJob(third);
    expect(await row(third)).toMatchObject({ status: 'SENT', server_id: other });

    // Mail waiting out a retry's backoff (it carries the failed attempt's error) keeps waiting when a
    // limit is raised, and a limit saved unchanged or lowered moves nothing.
    const retrying = await send(agency.id);
    await deferTo(retrying, server.id);
    await db.query(`UPDATE messages SET error = '{"code":"THROTTLED","message":"421 try again later"}' WHERE id = $1`, [retrying]);
    const quotaWaiter = await send(agency.id);
    await deferTo(quotaWaiter, server.id);
    for (const hourly of [2, 1]) {
      await t.gqlOk(updateQuota, { id: server.id, input: { quota: { hourly } } });
      expect(await row(quotaWaiter)).toMatchObject({ status: 'DEFERRED' });
    }
    await t.gqlOk(updateQuota, { id: server.id, input: { quota: { hourly: 10 } } });
    expect(await row(retrying)).toMatchObject({ status: 'DEFERRED' });
    expect(await row(quotaWaiter)).toMatchObject({ status: 'QUEUED' });
  });

  it('routes mail waiting for a window again when its limit is raised, even after an earlier attempt failed', async () => {
    // A clock whose hour does not turn while the test runs: a full server stays full.
    const agency = await newAgency(t, { timezone: quietHour().timezone });
    const server = await createServer(t, smtpServerInput(agency.id, sink.port, { name: 'Once failed relay', quota: { hourly: 1 } }));
    await verifyAndActivate(t, server.id);
    const first = await send(agency.id);
    await runJob(first);
    const waiting = await send(agency.id);
    // An earlier attempt failed (its error is stored); this one finds the hour full.
    await db.query(`UPDATE messages SET error = '{"code":"THROTTLED","message":"421 try again later"}' WHERE id = $1`, [waiting]);
    await runJob(waiting);
    expect(await row(waiting)).toMatchObject({ status: 'DEFERRED', server_id: server.id });
    expect((await db.query('SELECT error FROM messages WHERE id = $1', [waiting])).rows[0].error).toBeNull();

    await t.gqlOk(`mutation($id: ID!) { updateDeliveryServer(id: $id, input: { quota: { hourly: 2 } }) { id } }`, { id: server.id });
    expect(await row(waiting)).toMatchObject({ status: 'QUEUED' });
  });

  describe("routes mail waiting for a full server again at once when the account's routes change", () => {
    /** The mutation's answer does not wait for the re-route it starts. */
    const settled = () => t.app.get(MessageStore).reroutesDone();
    const updateAccount = async (id: string, input: Record<string, unknown>) => {
      await t.gqlOk(`mutation($id: ID!, $input: UpdateAccountInput!) { updateAccount(id: $id, input: $input) { id } }`, { id, input });
      await settled();
    };
    /** An account (WAIT) whose only route with room is not taken: its first server is full, and one message waits for its hour. */
    const waitingBehindFull = async (accountId: string) => {
      const full = await activeServer(accountId, 'Full relay');
      await settled();
      await t.gqlOk(`mutation($id: ID!) { updateDeliveryServer(id: $id, input: { quota: { hourly: 1 } }) { id } }`, { id: full });
      await runJob(await send(accountId));
      const waiting = await send(accountId);
      await runJob(waiting);
      expect(await row(waiting)).toMatchObject({ status: 'DEFERRED', server_id: full });
      return { full, waiting };
    };

    it('when FAILOVER replaces WAIT, and not when the setting is saved unchanged', async () => {
      const agency = await newAgency(t, { timezone: quietHour().timezone });
      const { full, waiting } = await waitingBehindFull(agency.id);
      const spare = await activeServer(agency.id, 'Spare relay');
      await settled();
      // Its activation routed the message again; under WAIT it waits for the full server still.
      await runJob(waiting);
      expect(await row(waiting)).toMatchObject({ status: 'DEFERRED', server_id: full });
      await updateAccount(agency.id, { onQuotaExhausted: 'WAIT', name: 'Renamed' });
      expect(await row(waiting)).toMatchObject({ status: 'DEFERRED' });
      await updateAccount(agency.id, { onQuotaExhausted: 'FAILOVER' });
      expect(await row(waiting)).toMatchObject({ status: 'QUEUED' });
      await runJob(waiting);
      expect(await row(waiting)).toMatchObject({ status: 'SENT', server_id: spare });
    });

    it('when another server becomes the default, and when a default server is activated', async () => {
      const agency = await newAgency(t, { timezone: quietHour().timezone });
      const { full, waiting } = await waitingBehindFull(agency.id);
      // A new default that cannot take mail yet (paused): routed again, the message still waits for the full one.
      const next = (await createServer(t, smtpServerInput(agency.id, sink.port, { name: 'Next relay' }))).id;
      await makeDefault(next);
      await settled();
      expect(await row(waiting)).toMatchObject({ status: 'QUEUED' });
      await runJob(waiting);
      expect(await row(waiting)).toMatchObject({ status: 'DEFERRED', server_id: full });
      await verifyAndActivate(t, next);
      await settled();
      expect(await row(waiting)).toMatchObject({ status: 'QUEUED' });
      await runJob(waiting);
      expect(await row(waiting)).toMatchObject({ status: 'SENT', server_id: next });
    });

    it("when an agency's add-ons or assignments change, its sub-accounts' mail too; mail waiting out a retry's backoff stays", async () => {
      const agency = await newAgency(t, { timezone: quietHour().timezone });
      const sub = await newSubAccount(t, agency.id, { timezone: quietHour().timezone });
      const { waiting } = await waitingBehindFull(sub.id);
      const retrying = await send(sub.id);
      await deferTo(retrying, (await row(waiting)).server_id as string);
      await db.query(`UPDATE messages SET error = '{"code":"THROTTLED","message":"421 try again later"}' WHERE id = $1`, [retrying]);
      await t.gqlOk(`mutation($id: ID!) { setAccountAddons(accountId: $id, addons: [CUSTOM_SMTP]) { id } }`, { id: agency.id });
      await settled();
      expect(await row(waiting)).toMatchObject({ status: 'QUEUED' });
      expect(await row(retrying)).toMatchObject({ status: 'DEFERRED' });
      await runJob(waiting);
      expect(await row(waiting)).toMatchObject({ status: 'DEFERRED' });

      const assigned = await activeServer(agency.id, 'Assigned relay');
      await settled();
      await runJob(waiting); // routed again by the activation: it still waits
      expect(await row(waiting)).toMatchObject({ status: 'DEFERRED' });
      await t.gqlOk(`mutation($id: ID!, $ids: [ID!]!) { assignSmtpAccounts(id: $id, accountIds: $ids) { id } }`, { id: assigned, ids: [sub.id] });
      await settled();
      expect(await row(waiting)).toMatchObject({ status: 'QUEUED' });
      await runJob(waiting);
      expect(await row(waiting)).toMatchObject({ status: 'SENT', server_id: assigned });
    });
  });

  it("keeps a window exact when the account's clock changes and changes back (each clock's counters are rebuilt from the sends)", async () => {
    // These two clocks are the point: the test waits out a turn of either one's month instead.
    await awayFromTurn(['UTC', 'Pacific/Kiritimati'], 'month');
    const agency = await newAgency(t, { timezone: 'UTC' });
    const server = await createServer(t, smtpServerInput(agency.id, sink.port, { name: 'Monthly relay', quota: { monthly: 3 } }));
    await verifyAndActivate(t, server.id);
    const setZone = (timezone: string) => t.gqlOk(`mutation($id: ID!, $tz: String!) { updateAccount(id: $id, input: { timezone: $tz }) { id } }`, { id: agency.id, tz: timezone });
    // A From of its own each time: this app holds routing answers (with the account's clock) for a minute.
    let n = 0;
    const sendNow = async (): Promise<string> => {
      const input = { accountId: agency.id, from: `news${++n}@brand.example`, to: 'reader@example.com', subject: 'Clock', text: 'Hi' };
      const id = (await t.gqlOk<{ sendEmail: { id: string } }>(`mutation($input: SendEmailInput!) { sendEmail(input: $input) { id } }`, { input })).sendEmail.id;
      await runJob(id);
      return id;
    };
    // One send on UTC, one on a clock whose month starts at another instant (so other counters).
    expect(await row(await sendNow())).toMatchObject({ status: 'SENT' });
    await setZone('Pacific/Kiritimati');
    expect(await row(await sendNow())).toMatchObject({ status: 'SENT' });
    // Back on UTC: its month counts both sends, so one more fits and the next waits.
    await setZone('UTC');
    expect(await row(await sendNow())).toMatchObject({ status: 'SENT' });
    expect(await row(await sendNow())).toMatchObject({ status: 'DEFERRED' });
  }, 90_000); // a minute of it may go on waiting out a turn

  it("tells a sub-account in general terms why its agency's server failed, and the agency in the provider's words", async () => {
    const down = new SmtpSink({ users: [SINK_USER] });
    extraSinks.push(down);
    await down.start();
    const agency = await newAgency(t);
    const sub = await newSubAccount(t, agency.id);
    const port = down.port;
    const server = await activeServer(agency.id, 'Agency relay', port);
    await t.gqlOk(`mutation($id: ID!) { setDefaultSmtp(id: $id, scope: SUB_ACCOUNTS) { id } }`, { id: server });
    const [own, subs] = [await send(agency.id), await send(sub.id)];
    await down.stop(); // connections are now refused: the provider's words name the host and port

    await runJob(own);
    await runJob(subs);
    const errorOf = async (id: string) => (await db.query<{ error: { code: string; message: string } }>('SELECT error FROM messages WHERE id = $1', [id])).rows[0].error;
    const detailOf = async (id: string) => (await db.query<{ detail: string }>(`SELECT detail FROM message_events WHERE message_id = $1 AND type = 'DEFERRED'`, [id])).rows[0].detail;
    expect(await errorOf(own)).toMatchObject({ code: 'CONNECTION_FAILED', message: expect.stringContaining(String(port)) });
    expect(await errorOf(subs)).toMatchObject({ code: 'CONNECTION_FAILED', message: 'The delivery server could not reach its provider' });
    expect(await detailOf(subs)).toBe('attempt 1 failed, retrying: The delivery server could not reach its provider');
    expect(await detailOf(own)).toContain(String(port));
  });

  it("pauses a sub-account's campaign in general terms when its agency's server refuses the sender", async () => {
    const refusing = new SmtpSink({ users: [SINK_USER] });
    extraSinks.push(refusing);
    await refusing.start();
    const agency = await newAgency(t);
    const sub = await newSubAccount(t, agency.id);
    const server = await activeServer(agency.id, 'Agency sender relay', refusing.port);
    await t.gqlOk(`mutation($id: ID!) { setDefaultSmtp(id: $id, scope: SUB_ACCOUNTS) { id } }`, { id: server });
    const input = { accountId: sub.id, name: 'Refused', from: 'news@brand.example', subject: 'Hi', text: 'Hi', recipients: ['one@example.com'] };
    const campaign = (await t.gqlOk<{ createCampaign: { id: string } }>(`mutation($input: CreateCampaignInput!) { createCampaign(input: $input) { id } }`, { input })).createCampaign;
    await t.gqlOk(`mutation($id: ID!) { startCampaign(id: $id) { id } }`, { id: campaign.id });
    // The sender was checked when the campaign started; the send itself is refused.
    refusing.script({ step: 'MAIL_FROM', code: 550, message: '5.7.1 Sender rejected by relay-9.agency.internal', times: 1 });
    const [id] = (await db.query<{ id: string }>('SELECT id FROM messages WHERE campaign_id = $1', [campaign.id])).rows.map((r) => r.id);
    await runJob(id);

    const paused = (await t.gqlOk<{ campaign: { status: string; pauseCode: string; pauseReason: string } }>(`query($id: ID!) { campaign(id: $id) { status pauseCode pauseReason } }`, { id: campaign.id })).campaign;
    expect(paused).toEqual({
      status: 'PAUSED',
      pauseCode: 'SENDER_NOT_VERIFIED',
      pauseReason: 'Agency sender relay refused the sender news@brand.example: The delivery server may not send from this address',
    });
  });

  it('routes a second re-route afresh too, not with the answer held for the first one', async () => {
    const agency = await newAgency(t);
    const ids: string[] = [];
    for (const name of ['Default', 'Other 1', 'Other 2']) ids.push(await activeServer(agency.id, name));
    await makeDefault(ids[0]);
    const first = await send(agency.id);
    const second = await send(agency.id);
    await deferTo(first, ids[0]);
    await pauseServer(ids[0]);
    await runJob(first); // routed afresh, to one of the others; that answer is now held for its re-route
    const took = (await row(first)).server_id as string;
    expect(took).not.toBe(ids[0]);
    await deferTo(second, took);
    await pauseServer(took);
    await runJob(second);
    expect(await row(second)).toMatchObject({ status: 'SENT', server_id: ids.find((id) => id !== ids[0] && id !== took) });
  });

  /**
   * A FAILOVER account (an opened circuit sends its mail to the next server at once) whose default
   * server's SMTP sink can be stopped, and a healthy second server. `breakNextSend` makes the next
   * send through the default fail and open its circuit (four failures "another worker saw" first).
   */
  const failingSetup = async () => {
    const failing = new SmtpSink({ users: [SINK_USER] });
    extraSinks.push(failing);
    await failing.start();
    const agency = await newAgency(t, { onQuotaExhausted: 'FAILOVER' });
    const a = await activeServer(agency.id, 'Failing', failing.port);
    const b = await activeServer(agency.id, 'Healthy');
    await makeDefault(a);
    const breakNextSend = async (): Promise<void> => {
      const breaker = t.app.get(CircuitBreaker);
      for (let i = 1; i < CIRCUIT_FAILURES; i++) await breaker.recordFailure(a, DeliveryErrorCode.CONNECTION_FAILED, 'connection refused elsewhere');
      await failing.stop();
    };
    return { agency, a, b, breakNextSend };
  };

  it('drops a held answer when a send through it fails: the next message sees the opened circuit', async () => {
    const { agency, a, b, breakNextSend } = await failingSetup();
    const [sent, failed, next] = [await send(agency.id), await send(agency.id), await send(agency.id)];
    await runJob(sent); // the answer "Failing" is now held
    expect(await row(sent)).toMatchObject({ status: 'SENT', server_id: a });
    await breakNextSend();
    await runJob(failed);
    expect(await row(failed)).toMatchObject({ status: 'DEFERRED', server_id: a });
    await runJob(next);
    expect(await row(next)).toMatchObject({ status: 'SENT', server_id: b });
  });

  it("drops a re-route's held answer too when another message's send through that server fails", async () => {
    const { agency, a, b, breakNextSend } = await failingSetup();
    const gone = await createServer(t, smtpServerInput(agency.id, sink.port, { name: 'Paused later' }));
    const [moved1, moved2, plain] = [await send(agency.id), await send(agency.id), await send(agency.id)];
    // Two messages wait for a server that is then paused: they are re-routed together.
    for (const id of [moved1, moved2]) await deferTo(id, gone.id);
    await pauseServer(gone.id);
    await runJob(moved1); // the re-route's answer "Failing" is now held
    expect(await row(moved1)).toMatchObject({ status: 'SENT', server_id: a });
    await breakNextSend();
    await runJob(plain); // not part of the re-route: its failure opens the circuit
    expect(await row(plain)).toMatchObject({ status: 'DEFERRED', server_id: a });
    await runJob(moved2);
    expect(await row(moved2)).toMatchObject({ status: 'SENT', server_id: b });
  });
});
