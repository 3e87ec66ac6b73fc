import { Client } from 'pg';
import { newAgency, newSubAccount, newToken } from '../factories/accounts';
import { createServer, SERVER_FIELDS, type ServerView, SINK_USER, smtpServerInput } from '../factories/delivery-servers';
import { SendGridFake } from '../fakes/sendgrid-fake';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { SmtpSink } from '../utils/smtp-sink';
import { waitFor } from '../utils/wait-for';

const ADD = `mutation($input: AddCustomSmtpInput!) { addCustomSmtp(input: $input) { ${SERVER_FIELDS} } }`;

describe('custom SMTP, defaults and assignments', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let sendgrid: SendGridFake;
  beforeAll(async () => {
    sink = new SmtpSink({ users: [SINK_USER] });
    await sink.start();
    sendgrid = new SendGridFake({
      apiKeys: ['SG.good-key-0001'],
      verifiedSenders: [
        { email: 'news@verified.example', verified: true },
        { email: 'news@pending.example', verified: false },
      ],
    });
    await sendgrid.start();
    t = await createTestApp({ SENDGRID_API_URL: sendgrid.url });
  });
  afterAll(async () => {
    await t.close();
    await sink.stop();
    await sendgrid.stop();
  });

  const countServers = async (): Promise<number> => {
    const client = new Client({ connectionString: t.databaseUrl });
    await client.connect();
    try {
      return Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM delivery_servers')).rows[0].n);
    } finally {
      await client.end();
    }
  };
  const withAddon = async (): Promise<{ id: string }> => {
    const agency = await newAgency(t);
    await t.gqlOk(`mutation($id: ID!) { setAccountAddons(accountId: $id, addons: [CUSTOM_SMTP]) { id } }`, { id: agency.id });
    return agency;
  };
  const smtpInput = (accountId: string, email: string, extra: Record<string, unknown> = {}) => ({
    accountId,
    provider: 'SMTP',
    email,
    smtp: { host: '127.0.0.1', port: sink.port, security: 'NONE', username: SINK_USER.user, password: SINK_USER.pass },
    ...extra,
  });

  it('is FORBIDDEN without the CUSTOM_SMTP add-on, names it, and stores nothing', async () => {
    const agency = await newAgency(t);
    const before = await countServers();
    const res = await t.gql(ADD, { input: smtpInput(agency.id, 'hello@acme.example') });
    expect(res.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect(res.errors?.[0].message).toContain('CUSTOM_SMTP');
    expect(await countServers()).toBe(before);
  });

  it('saves a verified custom SMTP ACTIVE with its sending domain; an agency add-on covers sub-accounts', async () => {
    const agency = await withAddon();
    const sub = await newSubAccount(t, agency.id);
    const res = await t.gqlOk<{ addCustomSmtp: ServerView }>(ADD, { input: smtpInput(sub.id, 'Hello@Acme.Example') }, (await newToken(t, agency.id)).token);
    expect(res.addCustomSmtp).toMatchObject({
      origin: 'CUSTOM_SMTP',
      provider: 'SMTP',
      status: 'ACTIVE',
      sendingDomain: 'acme.example',
      testEmail: 'hello@acme.example',
      name: 'Custom SMTP (acme.example)',
      transports: ['SMTP'],
      account: { id: sub.id },
    });
    expect(res.addCustomSmtp.verifiedAt).not.toBeNull();
    // Verified with a real test email from the address to itself.
    expect(sink.messages.filter((m) => m.envelope.from === 'hello@acme.example')).toEqual([
      expect.objectContaining({ envelope: { from: 'hello@acme.example', to: ['hello@acme.example'] }, subject: 'mailroute: custom SMTP check for hello@acme.example' }),
    ]);
    const dup = await t.gql(ADD, { input: smtpInput(sub.id, 'other@acme.example') });
    expect(dup.errors?.[0].extensions?.code).toBe('CONFLICT');
    const otherDomain = await t.gqlOk<{ addCustomSmtp: ServerView }>(ADD, { input: smtpInput(sub.id, 'hello@beta.example', { name: 'Beta' }) });
    expect(otherDomain.addCustomSmtp.name).toBe('Beta');
    const email = await t.gql(`mutation($id: ID!) { updateDeliveryServer(id: $id, input: { sendingDomain: "other.example" }) { id } }`, { id: otherDomain.addCustomSmtp.id });
    expect(email.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['sendingDomain'] });
  });

  it('a sending domain too long for the default name is shortened in the name, kept whole as the domain', async () => {
    const agency = await withAddon();
    const domain = `${['a', 'b', 'c', 'd'].map((c) => c.repeat(60)).join('.')}.example`;
    const res = await t.gqlOk<{ addCustomSmtp: ServerView }>(ADD, { input: smtpInput(agency.id, `x@${domain}`) });
    expect(res.addCustomSmtp.sendingDomain).toBe(domain);
    expect(res.addCustomSmtp.name).toHaveLength(200);
    expect(res.addCustomSmtp.name).toBe(`Custom SMTP (${domain.slice(0, 185)}…)`);
  });

  it('two adds for one domain at once: one is saved, the other answers the CONFLICT the existence check answers, naming email', async () => {
    const agency = await withAddon();
    const before = await countServers();
    const [lock, observer] = [new Client({ connectionString: t.databaseUrl }), new Client({ connectionString: t.databaseUrl })];
    await Promise.all([lock.connect(), observer.connect()]);
    let adds: Promise<Awaited<ReturnType<typeof t.gql>>[]> | undefined;
    try {
      // Inserts wait behind a SHARE lock on the table while reads pass it: both adds get through
      // the existence check and the provider checks before either inserts.
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE delivery_servers IN SHARE MODE');
      const [{ pid }] = (await lock.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
      adds = Promise.all([t.gql(ADD, { input: smtpInput(agency.id, 'one@race.example') }), t.gql(ADD, { input: smtpInput(agency.id, 'two@race.example') })]);
      await waitFor('both inserts waiting for the lock', async () => {
        const { rows } = await observer.query(`SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)) AND query LIKE 'INSERT INTO "delivery_servers"%'`, [pid]);
        return rows.length === 2;
      });
      await lock.query('COMMIT');
      const results = await adds;
      expect(results.filter((r) => !r.errors)).toHaveLength(1);
      const [lost] = results.filter((r) => r.errors).map((r) => r.errors?.[0]);
      expect(lost?.extensions).toMatchObject({ code: 'CONFLICT', fields: ['email'] });
      expect(lost?.message).toMatch(/^email .*race\.example/);
      // The same answer as an add after the first was saved, which the existence check refuses.
      const later = await t.gql(ADD, { input: smtpInput(agency.id, 'three@race.example') });
      expect({ message: later.errors?.[0].message, extensions: later.errors?.[0].extensions }).toEqual({ message: lost?.message, extensions: lost?.extensions });
      expect(await countServers()).toBe(before + 1);
    } finally {
      await lock.end();
      await observer.end();
      await adds?.catch(() => undefined);
    }
  });

  it('answers SENDER_NOT_VERIFIED for an unverified email and PROVIDER_AUTH_FAILED for a bad key, storing nothing', async () => {
    const agency = await withAddon();
    const before = await countServers();
    const unverified = await t.gql(ADD, { input: { accountId: agency.id, provider: 'SENDGRID', email: 'news@pending.example', api: { apiKey: 'SG.good-key-0001' } } });
    expect(unverified.errors?.[0].extensions?.code).toBe('SENDER_NOT_VERIFIED');
    const badKey = await t.gql(ADD, { input: { accountId: agency.id, provider: 'SENDGRID', email: 'news@verified.example', api: { apiKey: 'SG.wrong-key-9999' } } });
    expect(badKey.errors?.[0].extensions?.code).toBe('PROVIDER_AUTH_FAILED');
    expect(JSON.stringify(badKey.errors)).not.toContain('SG.wrong-key-9999');
    sink.script({ step: 'MAIL_FROM', code: 550, message: '5.7.1 Sender rejected', times: 1 });
    const refusedSender = await t.gql(ADD, { input: smtpInput(agency.id, 'someone@blocked.example') });
    expect(refusedSender.errors?.[0].extensions?.code).toBe('SENDER_NOT_VERIFIED');
    expect(await countServers()).toBe(before);
  });

  it('sends a real test email over SMTP: a relay that takes any envelope but refuses the unverified sender after DATA is SENDER_NOT_VERIFIED, storing nothing', async () => {
    const agency = await withAddon();
    const before = await countServers();
    // SendGrid's relay (PROVIDERS.md): MAIL FROM and RCPT pass, the message is refused.
    sink.script({ step: 'DATA', code: 550, message: 'The from address does not match a verified Sender Identity', times: 1 });
    const refused = await t.gql(ADD, { input: smtpInput(agency.id, 'news@unverified.example') });
    expect(refused.errors?.[0].extensions?.code).toBe('SENDER_NOT_VERIFIED');
    expect(refused.errors?.[0].message).toContain('news@unverified.example');
    expect(await countServers()).toBe(before);
    // A temporary refusal says nothing about the sender: the check could not be made.
    sink.script({ step: 'DATA', code: 451, message: '4.3.0 Try again later', times: 2 });
    const later = await t.gql(ADD, { input: smtpInput(agency.id, 'news@unverified.example') });
    expect(later.errors?.[0].extensions?.code).toBe('PROVIDER_UNREACHABLE');
    expect(await countServers()).toBe(before);
  });

  it('fills in the SendGrid SMTP login (apikey + the API key) and verifies both transports', async () => {
    const agency = await withAddon();
    const relay = new SmtpSink({ users: [{ user: 'apikey', pass: 'SG.good-key-0001' }] });
    await relay.start();
    const res = await t.gqlOk<{ addCustomSmtp: ServerView }>(ADD, {
      input: {
        accountId: agency.id,
        provider: 'SENDGRID',
        email: 'news@verified.example',
        api: { apiKey: 'SG.good-key-0001', region: 'GLOBAL' },
        smtp: { host: '127.0.0.1', port: relay.port, security: 'NONE' },
      },
    }).finally(() => relay.stop());
    expect(relay.logins).toContainEqual(expect.objectContaining({ user: 'apikey', accepted: true }));
    expect(res.addCustomSmtp).toMatchObject({ provider: 'SENDGRID', transports: ['API', 'SMTP'], smtp: { username: 'apikey' }, api: { keyHint: '…0001', region: 'GLOBAL' } });
  });

  it.each([
    ['neither api nor smtp', { api: null, smtp: null }, ['api', 'smtp']],
    ['api on a plain SMTP', { api: { apiKey: 'whatever-123' } }, ['api']],
    ['a malformed email', { email: 'not-an-email' }, ['email']],
    ['an SMTP port out of range', { smtp: { host: '127.0.0.1', port: 0, security: 'NONE' } }, ['smtp.port']],
  ])('refuses %s naming the field', async (_label, overrides, fields) => {
    const agency = await withAddon();
    const before = await countServers();
    const res = await t.gql(ADD, { input: { ...smtpInput(agency.id, 'x@acme.example'), ...overrides } });
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields });
    expect(await countServers()).toBe(before);
  });

  it('moves the default flag atomically per owner, scope and sending domain', async () => {
    const agency = await newAgency(t);
    const a = await createServer(t, smtpServerInput(agency.id, sink.port, { sendingDomain: 'acme.example' }));
    const b = await createServer(t, smtpServerInput(agency.id, sink.port, { sendingDomain: 'acme.example' }));
    const anyDomain = await createServer(t, smtpServerInput(agency.id, sink.port));
    const set = (id: string, scope: string) => t.gqlOk<{ setDefaultSmtp: ServerView }>(`mutation($id: ID!, $s: DefaultScope!) { setDefaultSmtp(id: $id, scope: $s) { isDefaultForAccount isDefaultForSubAccounts } }`, { id, s: scope });
    const flags = async (id: string) =>
      (await t.gqlOk<{ deliveryServer: ServerView }>(`query($id: ID!) { deliveryServer(id: $id) { isDefaultForAccount isDefaultForSubAccounts } }`, { id })).deliveryServer;
    expect((await set(a.id, 'ACCOUNT')).setDefaultSmtp).toEqual({ isDefaultForAccount: true, isDefaultForSubAccounts: false });
    await set(anyDomain.id, 'ACCOUNT');
    await set(b.id, 'ACCOUNT');
    expect(await flags(a.id)).toEqual({ isDefaultForAccount: false, isDefaultForSubAccounts: false });
    expect(await flags(b.id)).toEqual({ isDefaultForAccount: true, isDefaultForSubAccounts: false });
    expect(await flags(anyDomain.id)).toEqual({ isDefaultForAccount: true, isDefaultForSubAccounts: false });
    await set(a.id, 'SUB_ACCOUNTS');
    expect(await flags(a.id)).toEqual({ isDefaultForAccount: false, isDefaultForSubAccounts: true });
    expect(await flags(b.id)).toEqual({ isDefaultForAccount: true, isDefaultForSubAccounts: false });
    await t.gqlOk(`mutation($id: ID!) { unsetDefaultSmtp(id: $id, scope: ACCOUNT) { id } }`, { id: b.id });
    expect(await flags(b.id)).toEqual({ isDefaultForAccount: false, isDefaultForSubAccounts: false });

    const sub = await newSubAccount(t, agency.id);
    const subServer = await createServer(t, smtpServerInput(sub.id, sink.port));
    const wrongScope = await t.gql(`mutation($id: ID!) { setDefaultSmtp(id: $id, scope: SUB_ACCOUNTS) { id } }`, { id: subServer.id });
    expect(wrongScope.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['scope'] });
    expect((await set(subServer.id, 'ACCOUNT')).setDefaultSmtp.isDefaultForAccount).toBe(true);
  });

  it("assigns only the owner agency's own sub-accounts and replaces the set", async () => {
    const agency = await newAgency(t);
    const [s1, s2] = [await newSubAccount(t, agency.id), await newSubAccount(t, agency.id)];
    const strangerSub = await newSubAccount(t, (await newAgency(t)).id);
    const server = await createServer(t, smtpServerInput(agency.id, sink.port));
    const assign = (ids: string[]) =>
      t.gql<{ assignSmtpAccounts: ServerView }>(`mutation($id: ID!, $a: [ID!]!) { assignSmtpAccounts(id: $id, accountIds: $a) { assignedAccounts { id } } }`, { id: server.id, a: ids });
    expect((await assign([s1.id, s2.id, s1.id])).data?.assignSmtpAccounts.assignedAccounts.map((a) => a.id).sort()).toEqual([s1.id, s2.id].sort());
    expect((await assign([s2.id])).data?.assignSmtpAccounts.assignedAccounts).toEqual([{ id: s2.id }]);
    const bad = await assign([s1.id, strangerSub.id]);
    expect(bad.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['accountIds'] });
    const still = await t.gqlOk<{ deliveryServer: ServerView }>(`query($id: ID!) { deliveryServer(id: $id) { assignedAccounts { id } } }`, { id: server.id });
    expect(still.deliveryServer.assignedAccounts).toEqual([{ id: s2.id }]);
    const subServer = await createServer(t, smtpServerInput(s1.id, sink.port));
    const fromSub = await t.gql(`mutation($id: ID!, $a: [ID!]!) { assignSmtpAccounts(id: $id, accountIds: $a) { id } }`, { id: subServer.id, a: [s2.id] });
    expect(fromSub.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['id'] });
    expect((await assign([])).data?.assignSmtpAccounts.assignedAccounts).toEqual([]);
  });
});
