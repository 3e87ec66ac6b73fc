import { QuotaService } from '../../src/modules/quota/quota.service';
import { newAgency, newSubAccount, newToken } from '../factories/accounts';
import { countQueries } from '../utils/count-queries';
import { createServer, SERVER_FIELDS, type ServerView, SINK_USER, smtpServerInput, type TestView, verifyAndActivate } from '../factories/delivery-servers';
import { SendGridFake } from '../fakes/sendgrid-fake';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { rawRows as rawRowsOf } from '../utils/test-db';
import { awayFromTurn, quietHour } from '../utils/quiet-clock';
import { SmtpSink } from '../utils/smtp-sink';
import { waitFor } from '../utils/wait-for';

/** A valid domain name of exactly `length` characters (197 to 259): three labels of 63, one of the rest, and ".com". */
function domainOfLength(length: number): string {
  const full = 'a'.repeat(63);
  return `${full}.${full}.${full}.${'b'.repeat(length - 3 * 64 - '.com'.length)}.com`;
}

describe('delivery servers', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let sendgrid: SendGridFake;
  beforeAll(async () => {
    sink = new SmtpSink({ users: [SINK_USER] });
    await sink.start();
    sendgrid = new SendGridFake({ apiKeys: ['SG.good-key-0001'], verifiedSenders: [{ email: 'news@verified.example', verified: true }] });
    await sendgrid.start();
    // countQueries counts every query of this process: no background pass (sweeper, campaign
    // completion, launch recovery, early webhook events, all every SWEEP_INTERVAL_MS) runs within a test.
    t = await createTestApp({ SENDGRID_API_URL: sendgrid.url, SWEEP_INTERVAL_MS: '600000' });
  });
  afterAll(async () => {
    await t.close();
    await sink.stop();
    await sendgrid.stop();
  });

  const rawRows = (sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> => rawRowsOf(t.databaseUrl, sql, params);
  const countServers = async (): Promise<number> => Number((await rawRows('SELECT count(*) AS n FROM delivery_servers'))[0].n);
  const test = (id: string, extra: Record<string, unknown> = {}, token?: string) =>
    t.gql<{ testSmtpServer: TestView & { server: { status: string; verifiedAt: string | null } } }>(
      `mutation($id: ID!, $to: String, $transport: TransportKind) { testSmtpServer(id: $id, to: $to, transport: $transport) {
        ok to transport messageId durationMs testedAt error { code message transport smtpResponseCode providerStatus smtpStep } server { status verifiedAt } } }`,
      { id, to: 'ops@example.com', ...extra },
      token,
    );

  it('creates a server PAUSED, unverified, showing settings but never secrets', async () => {
    const agency = await newAgency(t);
    const server = await createServer(t, smtpServerInput(agency.id, sink.port, { senderAddress: 'News@Example.com', sendingDomain: 'Example.com', quota: { hourly: 100 }, pauseMs: 250 }));
    expect(server).toMatchObject({
      provider: 'SMTP',
      origin: 'DELIVERY_SERVER',
      status: 'PAUSED',
      verifiedAt: null,
      senderAddress: 'news@example.com',
      sendingDomain: 'example.com',
      transports: ['SMTP'],
      api: null,
      smtp: { host: '127.0.0.1', port: sink.port, security: 'NONE', username: SINK_USER.user },
      quota: { hourly: 100, daily: null, monthly: null },
      pauseMs: 250,
      account: { id: agency.id },
      webhook: { status: 'NOT_SUPPORTED' },
      lastTest: null,
    });
    const dump = JSON.stringify(await rawRows('SELECT * FROM delivery_servers WHERE id = $1', [server.id]));
    expect(dump).not.toContain(SINK_USER.pass);
    expect(sink.messages).toHaveLength(0); // creating sends nothing
  });

  it('refuses activation until a test passes, then activates', async () => {
    const server = await createServer(t, smtpServerInput(null, sink.port));
    const early = await t.gql(`mutation($id: ID!) { activateDeliveryServer(id: $id) { status } }`, { id: server.id });
    expect(early.errors?.[0].extensions?.code).toBe('SERVER_NOT_VERIFIED');
    const before = sink.messages.length;
    const res = await test(server.id);
    expect(res.data?.testSmtpServer).toMatchObject({ ok: true, to: 'ops@example.com', transport: 'SMTP', error: null, server: { status: 'PAUSED' } });
    expect(res.data?.testSmtpServer.server.verifiedAt).not.toBeNull();
    const [received] = (await sink.waitFor(before + 1)).slice(before);
    expect(received.subject).toBe('mailroute test email: Office relay');
    expect(received.envelope.to).toEqual(['ops@example.com']);
    expect(received.headers['x-mailroute-test']).toBe(server.id);
    const active = await t.gqlOk<{ activateDeliveryServer: ServerView }>(`mutation($id: ID!) { activateDeliveryServer(id: $id) { status lastTest { ok } } }`, { id: server.id });
    expect(active.activateDeliveryServer).toMatchObject({ status: 'ACTIVE', lastTest: { ok: true } });
    const paused = await t.gqlOk<{ pauseDeliveryServer: ServerView }>(`mutation($id: ID!) { pauseDeliveryServer(id: $id) { status } }`, { id: server.id });
    expect(paused.pauseDeliveryServer.status).toBe('PAUSED');
  });

  it('reports a wrong SMTP password as ok:false AUTH_FAILED at the AUTH step, and stores it as lastTest', async () => {
    const server = await createServer(t, smtpServerInput(null, sink.port, { credentials: { smtp: { host: '127.0.0.1', port: sink.port, security: 'NONE', username: SINK_USER.user, password: 'wrong-password' } } }));
    const res = await test(server.id);
    expect(res.errors).toBeUndefined();
    const result = res.data!.testSmtpServer;
    expect(result).toMatchObject({ ok: false, transport: null, error: { code: 'AUTH_FAILED', transport: 'SMTP', smtpResponseCode: 535, smtpStep: 'AUTH' }, server: { verifiedAt: null } });
    expect(result.error?.message).not.toContain('wrong-password');
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    const read = await t.gqlOk<{ deliveryServer: ServerView }>(`query($id: ID!) { deliveryServer(id: $id) { lastTest { ok error { code smtpStep } } verifiedAt } }`, { id: server.id });
    expect(read.deliveryServer).toEqual({ lastTest: { ok: false, error: { code: 'AUTH_FAILED', smtpStep: 'AUTH' } }, verifiedAt: null });
  });

  it('a credential change clears verification and pauses; a password left out is kept', async () => {
    const server = await createServer(t, smtpServerInput(null, sink.port));
    await verifyAndActivate(t, server.id);
    const renamed = await t.gqlOk<{ updateDeliveryServer: ServerView }>(
      `mutation($id: ID!) { updateDeliveryServer(id: $id, input: { name: "Renamed" }) { name status verifiedAt } }`,
      { id: server.id },
    );
    expect(renamed.updateDeliveryServer).toMatchObject({ name: 'Renamed', status: 'ACTIVE' });
    expect(renamed.updateDeliveryServer.verifiedAt).not.toBeNull();
    // Same host, new port value equal to the old one but password omitted: nothing changed.
    const same = await t.gqlOk<{ updateDeliveryServer: ServerView }>(
      `mutation($id: ID!, $c: ServerCredentialsInput) { updateDeliveryServer(id: $id, input: { credentials: $c }) { status verifiedAt } }`,
      { id: server.id, c: { smtp: { host: '127.0.0.1', port: sink.port, security: 'NONE', username: SINK_USER.user } } },
    );
    expect(same.updateDeliveryServer.status).toBe('ACTIVE');
    // A new username takes its own password (a stored one goes only to the login it was given for).
    const changed = await t.gqlOk<{ updateDeliveryServer: ServerView }>(
      `mutation($id: ID!, $c: ServerCredentialsInput) { updateDeliveryServer(id: $id, input: { credentials: $c }) { status verifiedAt pausedReason smtp { username } } }`,
      { id: server.id, c: { smtp: { host: '127.0.0.1', port: sink.port, security: 'NONE', username: 'other-user', password: 'other-password' } } },
    );
    expect(changed.updateDeliveryServer).toMatchObject({ status: 'PAUSED', verifiedAt: null, smtp: { username: 'other-user' } });
    expect(changed.updateDeliveryServer.pausedReason).toMatch(/Credentials changed/);
    await t.gqlOk(`mutation($id: ID!, $c: ServerCredentialsInput) { updateDeliveryServer(id: $id, input: { credentials: $c }) { id } }`, {
      id: server.id,
      c: { smtp: { host: '127.0.0.1', port: sink.port, security: 'NONE', username: SINK_USER.user, password: SINK_USER.pass } },
    });
    // The kept password still logs in after an update that leaves it out.
    await t.gqlOk(`mutation($id: ID!, $c: ServerCredentialsInput) { updateDeliveryServer(id: $id, input: { credentials: $c }) { id } }`, {
      id: server.id,
      c: { smtp: { host: '127.0.0.1', port: sink.port, security: 'NONE', username: SINK_USER.user } },
    });
    expect((await test(server.id)).data?.testSmtpServer.ok).toBe(true);
  });

  it('a test still running when the credentials change verifies nothing and puts nothing back', async () => {
    const server = await createServer(t, smtpServerInput(null, sink.port));
    await verifyAndActivate(t, server.id);
    const bodiesBefore = sink.bodiesReceived;
    sink.delayData(1_500);
    try {
      const testing = test(server.id);
      // The test's message is at the sink (its answer held back) when new credentials are saved.
      await waitFor("the test's message at the sink", () => Promise.resolve(sink.bodiesReceived > bodiesBefore));
      await t.gqlOk(`mutation($id: ID!, $c: ServerCredentialsInput) { updateDeliveryServer(id: $id, input: { credentials: $c }) { id } }`, {
        id: server.id,
        c: { smtp: { host: '127.0.0.1', port: sink.port, security: 'NONE', username: 'other-user', password: 'other-password' } },
      });
      expect((await testing).data?.testSmtpServer.ok).toBe(true);
    } finally {
      sink.delayData(0);
    }
    const after = await t.gqlOk<{ deliveryServer: ServerView }>(`query($id: ID!) { deliveryServer(id: $id) { status verifiedAt smtp { username } lastTest { ok } } }`, { id: server.id });
    expect(after.deliveryServer).toMatchObject({ status: 'PAUSED', verifiedAt: null, smtp: { username: 'other-user' }, lastTest: { ok: true } });
    const activate = await t.gql(`mutation($id: ID!) { activateDeliveryServer(id: $id) { status } }`, { id: server.id });
    expect(activate.errors?.[0].extensions?.code).toBe('SERVER_NOT_VERIFIED');
  });

  it('update: a field left out is unchanged, an explicit null clears it', async () => {
    const server = await createServer(t, smtpServerInput(null, sink.port, { senderAddress: 'a@example.com', sendingDomain: 'example.com', quota: { hourly: 5, daily: 50, monthly: 500 } }));
    const q = `mutation($id: ID!, $input: UpdateDeliveryServerInput!) { updateDeliveryServer(id: $id, input: $input) { senderAddress sendingDomain quota { hourly daily monthly } pauseMs } }`;
    const a = await t.gqlOk<{ updateDeliveryServer: ServerView }>(q, { id: server.id, input: { senderAddress: null, quota: { hourly: null } } });
    expect(a.updateDeliveryServer).toEqual({ senderAddress: null, sendingDomain: 'example.com', quota: { hourly: null, daily: 50, monthly: 500 }, pauseMs: 0 });
    const b = await t.gqlOk<{ updateDeliveryServer: ServerView }>(q, { id: server.id, input: { quota: null, pauseMs: 1000 } });
    expect(b.updateDeliveryServer).toEqual({ senderAddress: null, sendingDomain: 'example.com', quota: { hourly: null, daily: null, monthly: null }, pauseMs: 1000 });
  });

  it.each([
    ['a credentials block of another provider', { provider: 'SENDGRID', credentials: { ses: { accessKeyId: 'AKIAABCDEFGHIJKLMNOP', secretAccessKey: 'x'.repeat(40), region: 'eu-west-1' } } }, ['credentials.ses', 'credentials.sendgrid']],
    ['no transport for the provider', { provider: 'SMTP', credentials: {} }, ['credentials.smtp']],
    ['a zero hourly quota', { quota: { hourly: 0 } }, ['quota.hourly']],
    ['a fractional daily quota', { quota: { daily: 1.5 } }, ['quota.daily']],
    ['a pause over an hour', { pauseMs: 3_600_001 }, ['pauseMs']],
    ['a negative pause', { pauseMs: -1 }, ['pauseMs']],
    ['a malformed sender address', { senderAddress: 'not-an-email' }, ['senderAddress']],
    ['a malformed sending domain', { sendingDomain: 'exa mple' }, ['sendingDomain']],
    ['a sending domain longer than 253 characters', { sendingDomain: domainOfLength(254) }, ['sendingDomain']],
    ['an SMTP port out of range', { credentials: { smtp: { host: '127.0.0.1', port: 70000, security: 'NONE' } } }, ['credentials.smtp.port']],
    ['a host with a scheme', { credentials: { smtp: { host: 'smtp://mail.example.com', port: 25, security: 'NONE' } } }, ['credentials.smtp.host']],
    ['an unknown SendGrid region', { provider: 'SENDGRID', credentials: { sendgrid: { apiKey: 'SG.good-key-0001', region: 'MARS' } } }, ['credentials.sendgrid.region']],
    ['a region for Elastic Email', { provider: 'ELASTIC_EMAIL', credentials: { elasticEmail: { apiKey: 'ee-key-123456', region: 'EU' } } }, ['credentials.elasticEmail.region']],
    ['a malformed SES region', { provider: 'AMAZON_SES', credentials: { ses: { accessKeyId: 'AKIAABCDEFGHIJKLMNOP', secretAccessKey: 'x'.repeat(40), region: 'Europe' } } }, ['credentials.ses.region']],
    ['an IP pool on a non-SparkPost server', { ipPool: 'transactional' }, ['ipPool']],
  ])('refuses %s naming the field, and stores nothing', async (_label, overrides, fields) => {
    const before = await countServers();
    const res = await t.gql(`mutation($input: CreateDeliveryServerInput!) { createDeliveryServer(input: $input) { id } }`, { input: smtpServerInput(null, sink.port, overrides) });
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(res.errors?.[0].extensions?.fields).toEqual(expect.arrayContaining([fields[0]]));
    for (const f of res.errors?.[0].extensions?.fields ?? []) expect(fields).toContain(f);
    expect(await countServers()).toBe(before);
  });

  it.each([
    ['a malformed sending domain', { sendingDomain: 'exa mple' }, ['sendingDomain']],
    ['a sending domain longer than 253 characters', { sendingDomain: domainOfLength(254) }, ['sendingDomain']],
  ])('refuses an update with %s naming the field, and changes nothing', async (_label, input, fields) => {
    const server = await createServer(t, smtpServerInput(null, sink.port, { sendingDomain: 'example.com' }));
    const res = await t.gql(`mutation($id: ID!, $input: UpdateDeliveryServerInput!) { updateDeliveryServer(id: $id, input: $input) { id } }`, { id: server.id, input });
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields });
    expect((await rawRows('SELECT sending_domain FROM delivery_servers WHERE id = $1', [server.id]))[0].sending_domain).toBe('example.com');
  });

  it('takes a sending domain of exactly 253 characters, the longest a domain name can be', async () => {
    const domain = domainOfLength(253);
    expect((await createServer(t, smtpServerInput(null, sink.port, { sendingDomain: domain }))).sendingDomain).toBe(domain);
  });

  it('a SendGrid server whose API answers 5xx still passes its test through SMTP', async () => {
    const server = await createServer(t, {
      accountId: null,
      name: 'SendGrid with relay',
      provider: 'SENDGRID',
      senderAddress: 'news@verified.example',
      credentials: {
        sendgrid: { apiKey: 'SG.good-key-0001' },
        smtp: { host: '127.0.0.1', port: sink.port, security: 'NONE', username: SINK_USER.user, password: SINK_USER.pass },
      },
    });
    expect(server.transports).toEqual(['API', 'SMTP']);
    expect(server.api).toEqual({ keyHint: '…0001', region: null });
    const dump = JSON.stringify(await rawRows('SELECT * FROM delivery_servers WHERE id = $1', [server.id]));
    expect(dump).not.toContain('SG.good-key-0001');
    expect(dump).not.toContain(SINK_USER.pass);
    sendgrid.fail({ kind: 'status', status: 503, body: { errors: [{ message: 'Service Unavailable' }] } });
    try {
      const res = await test(server.id);
      expect(res.data?.testSmtpServer).toMatchObject({ ok: true, transport: 'SMTP' });
      const apiOnly = await test(server.id, { transport: 'API' });
      expect(apiOnly.data?.testSmtpServer).toMatchObject({ ok: false, error: { code: 'PROVIDER_ERROR', transport: 'API', providerStatus: 503 } });
    } finally {
      sendgrid.fail({ kind: 'none' });
    }
    const viaApi = await test(server.id, { transport: 'API' });
    expect(viaApi.data?.testSmtpServer).toMatchObject({ ok: true, transport: 'API' });
    expect(sendgrid.accepted.at(-1)?.to).toContain('ops@example.com');
  });

  it('rate-limits test emails per server', async () => {
    const server = await createServer(t, smtpServerInput(null, sink.port));
    for (let i = 0; i < 5; i++) expect((await test(server.id)).data?.testSmtpServer.ok).toBe(true);
    const sixth = await test(server.id);
    expect(sixth.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED' });
    expect(Number(sixth.errors?.[0].extensions?.retryAfterSeconds)).toBeGreaterThan(0);
    const other = await createServer(t, smtpServerInput(null, sink.port));
    expect((await test(other.id)).data?.testSmtpServer.ok).toBe(true);
  });

  it("does not count a test email in the server's quota: a server whose window is full can still be verified", async () => {
    const agency = await newAgency(t, { timezone: quietHour().timezone });
    const server = await createServer(t, smtpServerInput(agency.id, sink.port, { quota: { hourly: 1 } }));
    for (let i = 0; i < 2; i++) expect((await test(server.id)).data?.testSmtpServer.ok).toBe(true);
    const usage = await t.gqlOk<{ deliveryServer: { usage: { hourly: { used: number } } } }>(`query($id: ID!) { deliveryServer(id: $id) { usage { hourly { used } } } }`, { id: server.id });
    expect(usage.deliveryServer.usage.hourly.used).toBe(0);
  });

  it("keeps the server's pause between a test email and the send before it, and answers THROTTLED when the pause is too long to wait for", async () => {
    const spaced = await createServer(t, smtpServerInput(null, sink.port, { pauseMs: 1_500 }));
    const from = sink.messages.length;
    expect((await test(spaced.id)).data?.testSmtpServer.ok).toBe(true);
    expect((await test(spaced.id)).data?.testSmtpServer.ok).toBe(true);
    const [first, second] = sink.messages.slice(from);
    expect(second.receivedAt - first.receivedAt).toBeGreaterThanOrEqual(1_500);

    const slow = await createServer(t, smtpServerInput(null, sink.port, { pauseMs: 120_000 }));
    expect((await test(slow.id)).data?.testSmtpServer.ok).toBe(true);
    const count = sink.messages.length;
    const throttled = (await test(slow.id)).data?.testSmtpServer;
    expect(throttled).toMatchObject({ ok: false, error: { code: 'THROTTLED' } });
    expect(throttled?.error?.message).toMatch(/^The server's pause between sends \(pauseMs\) puts its next send \d+ s away/);
    expect(sink.messages.length).toBe(count);
  });

  it('an empty `to` sends the test to the server\'s own address (its senderAddress here)', async () => {
    const server = await createServer(t, smtpServerInput(null, sink.port, { senderAddress: 'desk@example.com' }));
    expect((await test(server.id, { to: '' })).data?.testSmtpServer).toMatchObject({ ok: true, to: 'desk@example.com' });
  });

  it('keeps tenants apart for every operation', async () => {
    const agency = await newAgency(t);
    const sub = await newSubAccount(t, agency.id);
    const sibling = await newSubAccount(t, agency.id);
    const stranger = await newAgency(t);
    const agencyServer = await createServer(t, smtpServerInput(agency.id, sink.port));
    const subServer = await createServer(t, smtpServerInput(sub.id, sink.port));
    const platform = await createServer(t, smtpServerInput(null, sink.port));
    const tokens = {
      agency: (await newToken(t, agency.id)).token,
      sub: (await newToken(t, sub.id)).token,
      sibling: (await newToken(t, sibling.id)).token,
      stranger: (await newToken(t, stranger.id)).token,
    };
    const read = (id: string, token: string) => t.gql(`query($id: ID!) { deliveryServer(id: $id) { id } }`, { id }, token);
    expect((await read(subServer.id, tokens.agency)).data).toEqual({ deliveryServer: { id: subServer.id } });
    expect((await read(subServer.id, tokens.sub)).data).toEqual({ deliveryServer: { id: subServer.id } });
    for (const [id, token] of [
      [subServer.id, tokens.sibling],
      [agencyServer.id, tokens.sub],
      [agencyServer.id, tokens.stranger],
      [platform.id, tokens.agency],
    ]) {
      expect((await read(id, token)).errors?.[0].extensions?.code).toBe('NOT_FOUND');
      for (const m of [
        `mutation($id: ID!) { updateDeliveryServer(id: $id, input: { name: "x" }) { id } }`,
        `mutation($id: ID!) { activateDeliveryServer(id: $id) { id } }`,
        `mutation($id: ID!) { pauseDeliveryServer(id: $id) { id } }`,
        `mutation($id: ID!) { deleteDeliveryServer(id: $id) }`,
        `mutation($id: ID!) { testSmtpServer(id: $id, to: "x@example.com") { ok } }`,
        `mutation($id: ID!) { setDefaultSmtp(id: $id, scope: ACCOUNT) { id } }`,
        `mutation($id: ID!) { registerWebhooks(id: $id) { id } }`,
      ]) {
        expect((await t.gql(m, { id }, token)).errors?.[0].extensions?.code).toBe('NOT_FOUND');
      }
    }
    const list = (token: string, accountId?: string) =>
      t.gql<{ deliveryServers: { id: string }[] }>(`query($a: ID) { deliveryServers(accountId: $a) { id } }`, { a: accountId }, token);
    expect((await list(tokens.agency)).data?.deliveryServers.map((s) => s.id).sort()).toEqual([agencyServer.id, subServer.id].sort());
    expect((await list(tokens.sub)).data?.deliveryServers.map((s) => s.id)).toEqual([subServer.id]);
    expect((await list(tokens.sibling)).data?.deliveryServers).toEqual([]);
    expect((await list(tokens.sibling, sub.id)).errors?.[0].extensions?.code).toBe('NOT_FOUND');
    const platformByAccount = await t.gql(`mutation($input: CreateDeliveryServerInput!) { createDeliveryServer(input: $input) { id } }`, { input: smtpServerInput(null, sink.port) }, tokens.agency);
    expect(platformByAccount.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const untouched = await t.gqlOk<{ deliveryServer: { name: string } }>(`query($id: ID!) { deliveryServer(id: $id) { name } }`, { id: agencyServer.id });
    expect(untouched.deliveryServer.name).toBe('Office relay');
  });

  it('filters by origin and deletes a server with its links', async () => {
    const agency = await newAgency(t);
    const sub = await newSubAccount(t, agency.id);
    const server = await createServer(t, smtpServerInput(agency.id, sink.port));
    await t.gqlOk(`mutation($id: ID!, $a: [ID!]!) { assignSmtpAccounts(id: $id, accountIds: $a) { id } }`, { id: server.id, a: [sub.id] });
    await t.gqlOk(`mutation($id: ID!) { setDefaultSmtp(id: $id, scope: SUB_ACCOUNTS) { id } }`, { id: server.id });
    const byOrigin = await t.gqlOk<{ deliveryServers: { id: string }[] }>(`query($a: ID) { deliveryServers(accountId: $a, origin: CUSTOM_SMTP) { id } }`, { a: agency.id });
    expect(byOrigin.deliveryServers).toEqual([]);
    expect(await t.gqlOk(`mutation($id: ID!) { deleteDeliveryServer(id: $id) }`, { id: server.id })).toEqual({ deleteDeliveryServer: true });
    expect((await t.gql(`query($id: ID!) { deliveryServer(id: $id) { id } }`, { id: server.id })).errors?.[0].extensions?.code).toBe('NOT_FOUND');
    expect(await rawRows('SELECT * FROM server_assignments WHERE server_id = $1', [server.id])).toEqual([]);
  });

  it('reads a list of servers with their account and assignments', async () => {
    const agency = await newAgency(t);
    const subs = [await newSubAccount(t, agency.id), await newSubAccount(t, agency.id)];
    for (let i = 0; i < 6; i++) {
      const s = await createServer(t, smtpServerInput(agency.id, sink.port));
      await t.gqlOk(`mutation($id: ID!, $a: [ID!]!) { assignSmtpAccounts(id: $id, accountIds: $a) { id } }`, { id: s.id, a: subs.map((x) => x.id) });
    }
    const res = await t.gqlOk<{ deliveryServers: ServerView[] }>(`query($a: ID) { deliveryServers(accountId: $a) { ${SERVER_FIELDS} } }`, { a: agency.id });
    expect(res.deliveryServers).toHaveLength(6);
    expect(res.deliveryServers.every((s) => s.assignedAccounts.length === 2 && s.account?.id === agency.id)).toBe(true);
    const viaAccount = await t.gqlOk<{ account: { deliveryServers: { id: string }[]; subAccounts: { deliveryServers: { id: string }[] }[] } }>(
      `query($id: ID!) { account(id: $id) { deliveryServers { id } subAccounts { deliveryServers { id } } } }`,
      { id: agency.id },
    );
    expect(viaAccount.account.deliveryServers.map((s) => s.id)).toEqual(res.deliveryServers.map((s) => s.id));
    expect(viaAccount.account.subAccounts).toEqual([{ deliveryServers: [] }, { deliveryServers: [] }]);

    // No query per server: the token, the account (which also answers each server's owner for
    // `account` and `usage`), the list, and one batch of assignments — for one server or for six.
    const token = (await newToken(t, agency.id)).token;
    const listQuery = `query($a: ID) { deliveryServers(accountId: $a) { id account { id } usage { hourly { used } } assignedAccounts { id } } }`;
    await t.gqlOk('{ viewer { role } }', {}, token); // a token's first use also stamps last_used_at
    const sixServers = await countQueries(() => t.gqlOk(listQuery, { a: agency.id }, token));
    const single = await newAgency(t);
    await createServer(t, smtpServerInput(single.id, sink.port));
    const singleToken = (await newToken(t, single.id)).token;
    await t.gqlOk('{ viewer { role } }', {}, singleToken);
    const oneServer = await countQueries(() => t.gqlOk(listQuery, { a: single.id }, singleToken));
    expect(sixServers).toHaveLength(4);
    expect(oneServer).toHaveLength(4);
  });
});

describe('delivery server usage', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it("reports used, limit, remaining and the next reset on the owner's clock", async () => {
    // Kolkata's clock is the point: the test waits out a turn of its hour (and so of its day and month) instead.
    await awayFromTurn(['Asia/Kolkata']);
    const agency = await newAgency(t, { timezone: 'Asia/Kolkata' });
    const server = await createServer(t, smtpServerInput(agency.id, 2525, { quota: { hourly: 10, daily: null, monthly: 1000 } }));
    const quota = t.app.get(QuotaService);
    for (let i = 0; i < 3; i++) {
      const r = await quota.reserve({ serverId: server.id, timezone: 'Asia/Kolkata', limits: { hourly: 10, daily: null, monthly: 1000 } });
      expect(r.ok).toBe(true);
    }
    const data = await t.gqlOk<{ deliveryServer: { usage: { timezone: string; hourly: Record<string, unknown>; daily: Record<string, unknown>; monthly: Record<string, unknown> } } }>(
      `query($id: ID!) { deliveryServer(id: $id) { usage { timezone hourly { used limit remaining resetsAt } daily { used limit remaining resetsAt } monthly { used limit remaining resetsAt } } } }`,
      { id: server.id },
    );
    const usage = data.deliveryServer.usage;
    expect(usage.timezone).toBe('Asia/Kolkata');
    expect(usage.hourly).toMatchObject({ used: 3, limit: 10, remaining: 7 });
    expect(usage.daily).toMatchObject({ used: 3, limit: null, remaining: null });
    expect(usage.monthly).toMatchObject({ used: 3, limit: 1000, remaining: 997 });
    // Kolkata is UTC+05:30: its hours turn at :30 UTC, its days at 18:30 UTC.
    expect(String(usage.hourly.resetsAt)).toMatch(/T\d\d:30:00\.000Z$/);
    expect(String(usage.daily.resetsAt)).toMatch(/T18:30:00\.000Z$/);
    const resetsIn = Date.parse(String(usage.hourly.resetsAt)) - Date.now();
    expect(resetsIn).toBeGreaterThan(0);
    expect(resetsIn).toBeLessThanOrEqual(3_600_000);
  }, 90_000); // a minute of it may go on waiting out a turn

  it('answers usage in a list (read for all servers at once) as it does server by server, through fragments too', async () => {
    // Three clocks are the point: the test waits out a turn of any one's hour (and so of its day and month) instead.
    await awayFromTurn(['Asia/Kolkata', 'America/New_York', 'UTC']);
    const kolkata = await newAgency(t, { timezone: 'Asia/Kolkata' });
    const newYork = await newAgency(t, { timezone: 'America/New_York' });
    const servers = [
      await createServer(t, smtpServerInput(kolkata.id, 2525, { name: 'K', quota: { hourly: 5, daily: 50, monthly: null } })),
      await createServer(t, smtpServerInput(newYork.id, 2525, { name: 'N', quota: { hourly: null, daily: 8, monthly: 80 } })),
      await createServer(t, smtpServerInput(null, 2525, { name: 'Platform', quota: { hourly: 9, daily: null, monthly: null } })),
    ];
    const quota = t.app.get(QuotaService);
    const zones = ['Asia/Kolkata', 'America/New_York', 'UTC'];
    for (const [i, s] of servers.entries()) {
      for (let n = 0; n <= i; n++) expect((await quota.reserve({ serverId: s.id, timezone: zones[i], limits: s.quota as never })).ok).toBe(true);
    }
    const USAGE = 'usage { timezone hourly { used limit remaining resetsAt } daily { used limit remaining resetsAt } monthly { used limit remaining resetsAt } }';
    type Usage = Record<string, unknown>;
    const oneByOne = new Map<string, Usage>();
    for (const s of servers) oneByOne.set(s.id, (await t.gqlOk<{ deliveryServer: { usage: Usage } }>(`query($id: ID!) { deliveryServer(id: $id) { ${USAGE} } }`, { id: s.id })).deliveryServer.usage);
    expect(oneByOne.get(servers[1].id)).toMatchObject({ timezone: 'America/New_York', daily: { used: 2, limit: 8, remaining: 6 } });
    expect(oneByOne.get(servers[2].id)).toMatchObject({ timezone: 'UTC', hourly: { used: 3, limit: 9, remaining: 6 } });
    const lists = [
      `{ deliveryServers { id ${USAGE} } }`,
      `{ deliveryServers { id ...U } } fragment U on DeliveryServer { ${USAGE} }`,
      `{ deliveryServers { id ... on DeliveryServer { ${USAGE} } } }`,
    ];
    for (const query of lists) {
      // Twice: the second request runs the compiled query.
      for (let round = 0; round < 2; round++) {
        const listed = (await t.gqlOk<{ deliveryServers: { id: string; usage: Usage }[] }>(query)).deliveryServers.filter((s) => oneByOne.has(s.id));
        expect(listed).toHaveLength(3);
        for (const s of listed) expect(s.usage).toEqual(oneByOne.get(s.id));
      }
    }
    // What a list read belongs to its request: a send counted afterwards shows in the next one.
    expect((await quota.reserve({ serverId: servers[0].id, timezone: zones[0], limits: servers[0].quota as never })).ok).toBe(true);
    const single = await t.gqlOk<{ deliveryServer: { usage: Usage } }>(`query($id: ID!) { deliveryServer(id: $id) { ${USAGE} } }`, { id: servers[0].id });
    expect(single.deliveryServer.usage).toMatchObject({ hourly: { used: 2, limit: 5, remaining: 3 } });
    const listedAgain = (await t.gqlOk<{ deliveryServers: { id: string; usage: Usage }[] }>(lists[0])).deliveryServers.find((s) => s.id === servers[0].id);
    expect(listedAgain?.usage).toEqual(single.deliveryServer.usage);
  }, 150_000); // two minutes of it may go on waiting out turns
});
