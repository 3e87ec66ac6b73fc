import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import { Client } from 'pg';
import type Redis from 'ioredis';
import { REDIS } from '../../src/infra/redis/redis.module';
import { DISPATCH_QUEUE } from '../../src/modules/messages/dispatch-queue';
import { quotaKeys } from '../../src/modules/quota/quota-keys';
import { newAgency, newToken } from '../factories/accounts';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../factories/delivery-servers';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { awayFromTurn, quietHour } from '../utils/quiet-clock';
import { SmtpSink } from '../utils/smtp-sink';
import { waitFor } from '../utils/wait-for';

interface MessageView {
  id: string;
  status: string;
  from: string;
  to: string;
  attempts: number;
  transport: string | null;
  providerMessageId: string | null;
  nextAttemptAt: string | null;
  sentAt: string | null;
  server: { id: string } | null;
  error: { code: string; message: string; smtpResponseCode: number | null } | null;
  events: { type: string; detail: string | null; occurredAt: string }[];
}
const MESSAGE_FIELDS = 'id status from to attempts transport providerMessageId nextAttemptAt sentAt server { id } error { code message smtpResponseCode } events { type detail occurredAt }';
const SEND = `mutation($input: SendEmailInput!) { sendEmail(input: $input) { ${MESSAGE_FIELDS} } }`;

describe('sendEmail through the worker', () => {
  let t: TestApp;
  let sink: SmtpSink;
  beforeAll(async () => {
    sink = new SmtpSink({ users: [SINK_USER] });
    await sink.start();
    t = await createTestApp({ RETRY_BASE_MS: '100', SWEEP_INTERVAL_MS: '500', WORKER_CONCURRENCY: '4' });
  });
  afterAll(async () => {
    await t.close();
    await sink.stop();
  });

  const read = async (id: string): Promise<MessageView> => (await t.gqlOk<{ message: MessageView }>(`query($id: ID!) { message(id: $id) { ${MESSAGE_FIELDS} } }`, { id })).message;
  const until = (id: string, status: string, timeoutMs = 10_000) => waitFor(`message ${id} to be ${status}`, async () => ((await read(id)).status === status ? read(id) : null), timeoutMs);
  const countMessages = async (): Promise<number> => {
    const client = new Client({ connectionString: t.databaseUrl });
    await client.connect();
    try {
      return Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM messages')).rows[0].n);
    } finally {
      await client.end();
    }
  };
  const setup = async (serverExtra: Record<string, unknown> = {}, accountExtra: Record<string, string> = {}) => {
    const agency = await newAgency(t, accountExtra);
    const server = await createServer(t, smtpServerInput(agency.id, sink.port, serverExtra));
    await verifyAndActivate(t, server.id);
    return { agency, server };
  };
  const mail = (accountId: string, extra: Record<string, unknown> = {}) => ({
    accountId,
    from: 'news@brand.example',
    to: `reader-${Math.random().toString(36).slice(2)}@example.com`,
    subject: 'Hello',
    text: 'Hi there',
    html: '<p>Hi there</p>',
    ...extra,
  });

  it('records SENT (with no server) for a send that was under way when its server was deleted', async () => {
    const { agency, server } = await setup();
    const input = mail(agency.id);
    sink.delayData(1_500);
    try {
      const bodiesBefore = sink.bodiesReceived;
      const accepted = await t.gqlOk<{ sendEmail: MessageView }>(SEND, { input });
      // The provider holds the whole message and has not answered yet: the send is under way.
      await waitFor('the message body at the sink', async () => sink.bodiesReceived > bodiesBefore, 10_000);
      expect(await t.gqlOk(`mutation($id: ID!) { deleteDeliveryServer(id: $id) }`, { id: server.id })).toEqual({ deleteDeliveryServer: true });
      const sent = await until(accepted.sendEmail.id, 'SENT');
      expect(sent).toMatchObject({ server: null, attempts: 1, error: null });
      expect(sent.events.map((e) => e.type)).toEqual(['QUEUED', 'ROUTED', 'SENT']);
      await waitFor('the message at the sink', async () => sink.messages.some((m) => m.envelope.to.includes(input.to)), 10_000);
      expect(sink.messages.filter((m) => m.envelope.to.includes(input.to))).toHaveLength(1);
    } finally {
      sink.delayData(0);
    }
  });

  it('accepts, queues and delivers a one-off with the effective From, recording each step', async () => {
    const { agency, server } = await setup({ senderAddress: 'forced@brand.example' });
    const input = mail(agency.id, { replyTo: 'author@brand.example', headers: [{ name: 'X-Campaign-Tag', value: 'spring' }] });
    const accepted = await t.gqlOk<{ sendEmail: MessageView }>(SEND, { input });
    expect(accepted.sendEmail).toMatchObject({ status: 'QUEUED', from: 'news@brand.example', to: input.to, attempts: 0 });
    const sent = await until(accepted.sendEmail.id, 'SENT');
    expect(sent).toMatchObject({ attempts: 1, transport: 'SMTP', server: { id: server.id }, error: null });
    expect(sent.events.map((e) => e.type)).toEqual(['QUEUED', 'ROUTED', 'SENT']);
    // Dated on one clock (the database's), in the order they happened.
    const [queuedAt, routedAt, sentAt] = sent.events.map((e) => Date.parse(e.occurredAt));
    expect(queuedAt).toBeLessThanOrEqual(routedAt);
    expect(routedAt).toBeLessThanOrEqual(sentAt);
    const received = (await sink.waitFor(sink.messages.length)).find((m) => m.envelope.to.includes(input.to));
    expect(received?.subject).toBe('Hello');
    expect(received?.text.trim()).toBe('Hi there');
    expect(received?.from).toContain('forced@brand.example');
    expect(received?.replyTo).toContain('author@brand.example');
    expect(received?.headers['x-campaign-tag']).toBe('spring');
    expect(received?.messageId).toContain(accepted.sendEmail.id);
  });

  it('retries a 421 with backoff and then delivers; fails a permanent 554 at once', async () => {
    const { agency } = await setup();
    // Scripted at DATA: routing's sender probe (MAIL FROM + RCPT, no DATA) must not eat the replies.
    sink.script({ step: 'DATA', code: 421, message: '4.7.0 Try again later', times: 2 });
    const retried = (await t.gqlOk<{ sendEmail: MessageView }>(SEND, { input: mail(agency.id) })).sendEmail;
    const done = await until(retried.id, 'SENT');
    expect(done.attempts).toBe(3);
    expect(done.events.filter((e) => e.type === 'DEFERRED')).toHaveLength(2);

    sink.script({ step: 'DATA', code: 554, message: '5.7.1 Message rejected as spam', times: 1 });
    const refused = (await t.gqlOk<{ sendEmail: MessageView }>(SEND, { input: mail(agency.id) })).sendEmail;
    const failed = await until(refused.id, 'FAILED');
    expect(failed).toMatchObject({ attempts: 1, error: { code: 'MESSAGE_REJECTED', smtpResponseCode: 554 } });
    expect(failed.events.map((e) => e.type)).toEqual(['QUEUED', 'ROUTED', 'FAILED']);
  });

  it('gives up after MAX_SEND_ATTEMPTS temporary failures with the reason', async () => {
    const { agency } = await setup();
    sink.script({ step: 'DATA', code: 451, message: '4.3.0 Mailbox temporarily unavailable', times: 5 });
    const m = (await t.gqlOk<{ sendEmail: MessageView }>(SEND, { input: mail(agency.id) })).sendEmail;
    const failed = await until(m.id, 'FAILED', 20_000);
    expect(failed).toMatchObject({ attempts: 5, error: { smtpResponseCode: 451 } });
  });

  it('returns the same message for the same idempotency key and sends it once', async () => {
    const { agency } = await setup();
    const input = mail(agency.id, { idempotencyKey: 'order-1234' });
    const [a, b] = await Promise.all([t.gqlOk<{ sendEmail: MessageView }>(SEND, { input }), t.gqlOk<{ sendEmail: MessageView }>(SEND, { input })]);
    expect(a.sendEmail.id).toBe(b.sendEmail.id);
    await until(a.sendEmail.id, 'SENT');
    const again = await t.gqlOk<{ sendEmail: MessageView }>(SEND, { input });
    expect(again.sendEmail).toMatchObject({ id: a.sendEmail.id, status: 'SENT' });
    expect(sink.messages.filter((m) => m.envelope.to.includes(input.to))).toHaveLength(1);
    const other = (await newAgency(t)).id;
    const res = await t.gql(SEND, { input: { ...input, accountId: other } });
    expect(res.errors?.[0].extensions?.code).toBe('NO_ROUTE'); // keys are per account: a fresh account routes on its own
  });

  it('does not send to a suppressed recipient', async () => {
    const { agency } = await setup();
    await t.gqlOk(`mutation($a: ID!, $e: String!) { addSuppression(accountId: $a, email: $e) { email reason } }`, { a: agency.id, e: 'Blocked@Example.com' });
    const m = (await t.gqlOk<{ sendEmail: MessageView }>(SEND, { input: mail(agency.id, { to: 'blocked@example.com' }) })).sendEmail;
    expect(m).toMatchObject({ status: 'SUPPRESSED', error: { code: 'SUPPRESSED', message: 'blocked@example.com is suppressed for this account' } });
    expect(m.events.map((e) => ({ type: e.type, detail: e.detail }))).toEqual([{ type: 'REJECTED', detail: 'blocked@example.com is suppressed for this account' }]);
    const list = await t.gqlOk<{ suppressions: { totalCount: number; edges: { node: { email: string; reason: string } }[] } }>(
      `query($a: ID!) { suppressions(accountId: $a, search: "blocked") { totalCount edges { node { email reason } } } }`,
      { a: agency.id },
    );
    expect(list.suppressions).toEqual({ totalCount: 1, edges: [{ node: { email: 'blocked@example.com', reason: 'MANUAL' } }] });
    expect(await t.gqlOk(`mutation($a: ID!) { removeSuppression(accountId: $a, email: "blocked@example.com") }`, { a: agency.id })).toEqual({ removeSuppression: true });
  });

  it('addSuppression is idempotent (the first date and reason stay) and never fails while a removal of the same address runs', async () => {
    const { agency } = await setup();
    const ADD = `mutation($a: ID!, $e: String!) { addSuppression(accountId: $a, email: $e) { email reason createdAt } }`;
    const REMOVE = `mutation($a: ID!, $e: String!) { removeSuppression(accountId: $a, email: $e) }`;
    const first = (await t.gqlOk<{ addSuppression: { createdAt: string } }>(ADD, { a: agency.id, e: 'twice@example.com' })).addSuppression;
    const again = (await t.gqlOk<{ addSuppression: unknown }>(ADD, { a: agency.id, e: 'TWICE@example.com' })).addSuppression;
    expect(again).toEqual({ email: 'twice@example.com', reason: 'MANUAL', createdAt: first.createdAt });
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all([t.gql(ADD, { a: agency.id, e: 'racy@example.com' }), t.gql(REMOVE, { a: agency.id, e: 'racy@example.com' }), t.gql(ADD, { a: agency.id, e: 'racy@example.com' })]);
      expect(answers.flatMap((a) => a.errors ?? [])).toEqual([]);
    }
  });

  it('refuses NO_ROUTE, SENDER_NOT_VERIFIED and bad input as GraphQL errors, storing nothing', async () => {
    const bare = await newAgency(t);
    const before = await countMessages();
    const noRoute = await t.gql(SEND, { input: mail(bare.id) });
    expect(noRoute.errors?.[0].extensions?.code).toBe('NO_ROUTE');

    const { agency } = await setup({ sendingDomain: 'checked.example' });
    sink.script({ step: 'MAIL_FROM', code: 550, message: '5.7.1 Sender rejected', times: 1 });
    const unverified = await t.gql(SEND, { input: mail(agency.id, { from: 'someone@checked.example' }) });
    expect(unverified.errors?.[0].extensions?.code).toBe('SENDER_NOT_VERIFIED');

    for (const [extra, fields] of [
      [{ to: 'a@example.com, b@example.com' }, ['to']],
      [{ from: 'nope' }, ['from']],
      [{ subject: 'line\r\nBcc: victim@example.com' }, ['subject']],
      [{ headers: [{ name: 'X-Ok', value: 'a\r\nBcc: victim@example.com' }] }, ['headers.0.value']],
      [{ headers: [{ name: 'Bcc', value: 'victim@example.com' }] }, ['headers']],
      // Instructions to a provider, not mail headers: another SES configuration set, a SendGrid subuser.
      [{ headers: [{ name: 'X-SES-CONFIGURATION-SET', value: 'someone-elses-set' }] }, ['headers']],
      [{ headers: [{ name: 'On-Behalf-Of', value: 'another-subuser' }] }, ['headers']],
      [{ headers: [{ name: 'X-MSYS-API', value: '{"options":{"ip_pool":"other"}}' }] }, ['headers']],
      [{ html: null, text: null }, ['html', 'text']],
    ] as const) {
      const res = await t.gql(SEND, { input: mail(agency.id, { from: 'x@checked.example', ...extra }) });
      expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields });
    }
    expect(await countMessages()).toBe(before);
    const stranger = (await newToken(t, bare.id)).token;
    expect((await t.gql(SEND, { input: mail(agency.id) }, stranger)).errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });

  it('WAIT defers a message to the quota reset on the account clock (a half-hour zone)', async () => {
    // The hour the first message fills must still be the one the second finds full.
    await awayFromTurn(['Asia/Kolkata']);
    const { agency } = await setup({ quota: { hourly: 1 } }, { timezone: 'Asia/Kolkata' });
    const first = (await t.gqlOk<{ sendEmail: MessageView }>(SEND, { input: mail(agency.id) })).sendEmail;
    await until(first.id, 'SENT');
    const second = (await t.gqlOk<{ sendEmail: MessageView }>(SEND, { input: mail(agency.id) })).sendEmail;
    const deferred = await until(second.id, 'DEFERRED');
    const next = Date.parse(deferred.nextAttemptAt ?? '');
    const reset = new Date(next);
    // Kolkata hours turn at :30 UTC: the message shows the reset itself.
    expect(reset.getUTCMinutes()).toBe(30);
    expect([reset.getUTCSeconds(), reset.getUTCMilliseconds()]).toEqual([0, 0]);
    expect(next).toBeGreaterThan(Date.now());
    // Its job runs at the reset or up to 30 s after (spread, so a reset does not wake every waiter at once).
    const queue = t.app.get<Queue>(getQueueToken(DISPATCH_QUEUE));
    const job = (await queue.getDelayed()).find((j) => (j.data as { messageId: string }).messageId === second.id);
    const runsAt = (job?.timestamp ?? 0) + (job?.opts.delay ?? 0);
    expect(runsAt).toBeGreaterThanOrEqual(next);
    expect(runsAt).toBeLessThanOrEqual(next + 30_000);
    expect(deferred.events.at(-1)).toMatchObject({ type: 'DEFERRED' });
    expect(deferred.events.at(-1)?.detail).toMatch(/hourly quota/);
  }, 90_000); // a minute of it may go on waiting out a turn

  it('FAILOVER spills to the second server and the counts match the limits exactly', async () => {
    // A clock whose hour does not turn while the two servers fill (the counts are of one hour).
    const agency = await newAgency(t, { onQuotaExhausted: 'FAILOVER', timezone: quietHour().timezone });
    const a = await createServer(t, smtpServerInput(agency.id, sink.port, { name: 'A', quota: { hourly: 3 } }));
    const b = await createServer(t, smtpServerInput(agency.id, sink.port, { name: 'B', quota: { hourly: 4 } }));
    await verifyAndActivate(t, a.id);
    await verifyAndActivate(t, b.id);
    const ids: string[] = [];
    for (let i = 0; i < 9; i++) ids.push((await t.gqlOk<{ sendEmail: MessageView }>(SEND, { input: mail(agency.id) })).sendEmail.id);
    const final = await waitFor('7 sent and 2 deferred', async () => {
      const all = await Promise.all(ids.map(read));
      const sent = all.filter((m) => m.status === 'SENT');
      return sent.length === 7 && all.filter((m) => m.status === 'DEFERRED').length === 2 ? all : null;
    });
    const byServer = (id: string) => final.filter((m) => m.status === 'SENT' && m.server?.id === id).length;
    expect(byServer(a.id)).toBe(3);
    expect(byServer(b.id)).toBe(4);
  });

  it('spaces sends through one server by pauseMs', async () => {
    const { agency } = await setup({ pauseMs: 150 });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await t.gqlOk<{ sendEmail: MessageView }>(SEND, { input: mail(agency.id, { subject: 'paced' }) })).sendEmail.id);
    await waitFor('all paced messages sent', async () => (await Promise.all(ids.map(read))).every((m) => m.status === 'SENT'), 15_000);
    const times = sink.messages.filter((m) => m.subject === 'paced').map((m) => m.receivedAt).sort((x, y) => x - y);
    expect(times).toHaveLength(5);
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(145);
  });

  it('mail waiting for far pause slots waits in the server\'s line, each for its own turn, and every message is spaced', async () => {
    const pauseMs = 700;
    const { agency, server } = await setup({ pauseMs });
    const ids: string[] = [];
    // More than the worker waits for in process (2 s of slots, three here): the rest re-schedule.
    for (let i = 0; i < 12; i++) ids.push((await t.gqlOk<{ sendEmail: MessageView }>(SEND, { input: mail(agency.id, { subject: 'lined' }) })).sendEmail.id);
    const line = quotaKeys.paceLine(t.config.redis.prefix, server.id);
    const redis = t.app.get<Redis>(REDIS);
    // At most the ~3 slots within the in-process wait are taken without a place in the line, so at
    // least 9 of the 12 join it, and each leaves only when it takes its slot (a pause or more
    // apart): 4 are in it at once well before the first leaves.
    const LINED = 4;
    const entries = await waitFor(`${LINED} messages waiting in the line`, async () => {
      const now = await redis.zrange(line, 0, -1, 'WITHSCORES');
      return now.length >= 2 * LINED ? now : null;
    }, 10_000);
    const waiting = entries.filter((_v, i) => i % 2 === 0);
    expect(waiting.every((id) => ids.includes(id))).toBe(true);
    // Told different times, a pause apart: not all the next free slot.
    const scores = entries.filter((_v, i) => i % 2 === 1).map(Number);
    expect(scores.length).toBeGreaterThanOrEqual(LINED);
    expect(new Set(scores).size).toBe(scores.length);
    await waitFor('all lined messages sent', async () => (await Promise.all(ids.map(read))).every((m) => m.status === 'SENT'), 20_000);
    const times = sink.messages.filter((m) => m.subject === 'lined').map((m) => m.receivedAt).sort((x, y) => x - y);
    expect(times).toHaveLength(12);
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(pauseMs - 5);
    // Each left the line when its send started.
    expect(await redis.zcard(line)).toBe(0);
  }, 30_000);

  it('a shortened pause sends the mail waiting for its turn now, not when the old pause would have let it', async () => {
    const { agency, server } = await setup({ pauseMs: 60_000 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await t.gqlOk<{ sendEmail: MessageView }>(SEND, { input: mail(agency.id, { subject: 'shortened' }) })).sendEmail.id);
    // The test email that verified the server just went: every message waits a minute or more.
    await waitFor('the messages waiting for their turn', async () => (await Promise.all(ids.map(read))).every((m) => m.status === 'DEFERRED'), 10_000);
    await t.gqlOk(`mutation($id: ID!, $input: UpdateDeliveryServerInput!) { updateDeliveryServer(id: $id, input: $input) { id } }`, { id: server.id, input: { pauseMs: 0 } });
    await waitFor('all sent after the pause was shortened', async () => (await Promise.all(ids.map(read))).every((m) => m.status === 'SENT'), 10_000);
  }, 30_000);

  it('routes again at once the mail waiting for a server that is deleted or paused', async () => {
    // A clock whose hour does not turn while the test runs: full servers stay full, and mail waits for them.
    const agency = await newAgency(t, { timezone: quietHour().timezone });
    const first = await createServer(t, smtpServerInput(agency.id, sink.port, { name: 'Full first', quota: { hourly: 1 } }));
    await verifyAndActivate(t, first.id);
    const second = await createServer(t, smtpServerInput(agency.id, sink.port, { name: 'Second' }));
    await verifyAndActivate(t, second.id);
    await until((await t.gqlOk<{ sendEmail: MessageView }>(SEND, { input: mail(agency.id) })).sendEmail.id, 'SENT');
    const waiting = (await t.gqlOk<{ sendEmail: MessageView }>(SEND, { input: mail(agency.id) })).sendEmail;
    // WAIT: the message waits for the first server's next hour…
    const deferred = await until(waiting.id, 'DEFERRED');
    expect(Date.parse(deferred.nextAttemptAt ?? '')).toBeGreaterThan(Date.now() + 1_000);
    // …until that server is deleted: then the second one takes it now.
    await t.gqlOk(`mutation($id: ID!) { deleteDeliveryServer(id: $id) }`, { id: first.id });
    const sent = await until(waiting.id, 'SENT');
    expect(sent.server?.id).toBe(second.id);

    const third = await createServer(t, smtpServerInput(agency.id, sink.port, { name: 'Third', quota: { hourly: 1 } }));
    await verifyAndActivate(t, third.id);
    await t.gqlOk(`mutation($id: ID!) { setDefaultSmtp(id: $id, scope: ACCOUNT) { id } }`, { id: third.id });
    expect((await until((await t.gqlOk<{ sendEmail: MessageView }>(SEND, { input: mail(agency.id) })).sendEmail.id, 'SENT')).server?.id).toBe(third.id);
    const parked = (await t.gqlOk<{ sendEmail: MessageView }>(SEND, { input: mail(agency.id) })).sendEmail;
    await until(parked.id, 'DEFERRED');
    await t.gqlOk(`mutation($id: ID!) { pauseDeliveryServer(id: $id) { id } }`, { id: third.id });
    expect((await until(parked.id, 'SENT')).server?.id).toBe(second.id);
  });

  it("sends a REMINDER without a From from the routed server's testEmail, and needs a From otherwise", async () => {
    const agency = await newAgency(t);
    const noFrom = { accountId: agency.id, to: 'patient@example.com', subject: 'See you tomorrow', text: 'Reminder', source: 'REMINDER' };
    // No server with a testEmail yet: the From cannot be chosen.
    expect((await t.gql(SEND, { input: noFrom })).errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['from'] });
    await t.gqlOk(`mutation($id: ID!) { setAccountAddons(accountId: $id, addons: [CUSTOM_SMTP]) { id } }`, { id: agency.id });
    await t.gqlOk(`mutation($input: AddCustomSmtpInput!) { addCustomSmtp(input: $input) { id } }`, {
      input: { accountId: agency.id, provider: 'SMTP', email: 'desk@clinic.example', smtp: { host: '127.0.0.1', port: sink.port, security: 'NONE', username: SINK_USER.user, password: SINK_USER.pass } },
    });
    const reminder = (await t.gqlOk<{ sendEmail: MessageView }>(SEND, { input: noFrom })).sendEmail;
    expect(reminder.from).toBe('desk@clinic.example');
    await until(reminder.id, 'SENT');
    const oneOff = await t.gql(SEND, { input: { ...noFrom, source: 'ONE_OFF' } });
    expect(oneOff.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['from'] });
    // A server without a testEmail routes first now: its From is not taken from the one below it.
    const relay = await createServer(t, smtpServerInput(agency.id, sink.port, { name: 'Default relay' }));
    await verifyAndActivate(t, relay.id);
    await t.gqlOk(`mutation($id: ID!) { setDefaultSmtp(id: $id, scope: ACCOUNT) { id } }`, { id: relay.id });
    const refused = await t.gql(SEND, { input: noFrom });
    expect(refused.errors?.[0]).toMatchObject({
      message: 'from is required: Default relay, the server a REMINDER routes to, has no testEmail',
      extensions: { code: 'BAD_USER_INPUT', fields: ['from'] },
    });
    // A server that forces its sender sends the REMINDER From it.
    await t.gqlOk(`mutation($id: ID!) { updateDeliveryServer(id: $id, input: { senderAddress: "desk@relay.example" }) { id } }`, { id: relay.id });
    expect((await t.gqlOk<{ sendEmail: MessageView }>(SEND, { input: noFrom })).sendEmail.from).toBe('desk@relay.example');
    // Unless that address is off the server's own sending domain (routing it would leave the server).
    await t.gqlOk(`mutation($id: ID!) { updateDeliveryServer(id: $id, input: { sendingDomain: "relay.example", senderAddress: "desk@elsewhere.example" }) { id } }`, { id: relay.id });
    expect((await t.gql(SEND, { input: noFrom })).errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['from'] });
  });
});
