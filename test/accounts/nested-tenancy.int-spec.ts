import { Client } from 'pg';
import { newAgency, newSubAccount, newToken, type AccountRef } from '../factories/accounts';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../factories/delivery-servers';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { SmtpSink } from '../utils/smtp-sink';

/** Everything a server shows that a sub-account must not see of its agency's server. */
const SERVER_DETAILS = `id name status smtp { host username } api { keyHint } testEmail pausedReason lastTest { to } webhook { status url events }
  reputation { sent } account { id name subAccounts { id } deliveryServers { id } } assignedAccounts { id }`;

/**
 * Tenancy through nested fields: a sub-account's token reaches its agency's server when its mail
 * is routed through it (routePreview, Message.server, MessageEvent.server), and from there must
 * not reach the agency, its sibling accounts, their servers, or the server's connection settings.
 */
describe('tenancy through nested fields', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let db: Client;
  let agency: AccountRef;
  let mine: AccountRef;
  let sibling: AccountRef;
  let agencyServerId: string;
  let siblingServerId: string;
  let mineToken: string;
  let agencyToken: string;

  beforeAll(async () => {
    sink = new SmtpSink({ users: [SINK_USER] });
    await sink.start();
    t = await createTestApp({ ROLE: 'api' });
    db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    agency = await newAgency(t, { name: 'Agency' });
    mine = await newSubAccount(t, agency.id, { name: 'Mine' });
    sibling = await newSubAccount(t, agency.id, { name: 'Sibling' });
    const agencyServer = await createServer(t, smtpServerInput(agency.id, sink.port, { name: 'Agency relay' }));
    await verifyAndActivate(t, agencyServer.id);
    await t.gqlOk(`mutation($id: ID!) { setDefaultSmtp(id: $id, scope: SUB_ACCOUNTS) { id } }`, { id: agencyServer.id });
    await t.gqlOk(`mutation($id: ID!, $ids: [ID!]!) { assignSmtpAccounts(id: $id, accountIds: $ids) { id } }`, { id: agencyServer.id, ids: [sibling.id] });
    agencyServerId = agencyServer.id;
    siblingServerId = (await createServer(t, smtpServerInput(sibling.id, sink.port, { name: 'Sibling relay' }))).id;
    mineToken = (await newToken(t, mine.id)).token;
    agencyToken = (await newToken(t, agency.id)).token;
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
    await sink?.stop();
  });

  const preview = async (token: string): Promise<Record<string, unknown>> => {
    const data = await t.gqlOk<{ routePreview: { server: Record<string, unknown>; candidates: { server: Record<string, unknown> }[] } }>(
      `query($id: ID!) { routePreview(accountId: $id, from: "news@mine.example") { server { ${SERVER_DETAILS} } candidates { server { id } } } }`,
      { id: mine.id },
      token,
    );
    expect(data.routePreview.server.id).toBe(agencyServerId);
    expect(data.routePreview.candidates.map((c) => c.server.id)).not.toContain(siblingServerId);
    return data.routePreview.server;
  };

  it("routePreview shows a sub-account its agency's server without its owner, assignments or connection settings", async () => {
    const server = await preview(mineToken);
    expect(server).toMatchObject({ id: agencyServerId, name: 'Agency relay', status: 'ACTIVE', smtp: null, api: null, testEmail: null, pausedReason: null, lastTest: null, account: null, assignedAccounts: [], reputation: null });
    expect(server.webhook).toMatchObject({ url: null, events: [] });
  });

  it('the agency itself sees its server in full through the same query', async () => {
    const server = await preview(agencyToken);
    expect(server).toMatchObject({ smtp: { host: '127.0.0.1', username: SINK_USER.user }, lastTest: { to: 'ops@example.com' }, assignedAccounts: [{ id: sibling.id }], reputation: { sent: expect.any(Number) } });
    const account = server.account as { id: string; subAccounts: { id: string }[]; deliveryServers: { id: string }[] };
    expect(account.id).toBe(agency.id);
    expect(account.subAccounts.map((a) => a.id).sort()).toEqual([mine.id, sibling.id].sort());
    expect(account.deliveryServers.map((s) => s.id)).toEqual([agencyServerId]);
  });

  it("a sub-account's message sent through the agency's server leads neither to the agency nor to a sibling", async () => {
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO messages (id, account_id, source, from_address, to_address, subject, text, status, server_id, transport, attempts, sent_at)
       VALUES (gen_random_uuid(), $1, 'ONE_OFF', 'news@mine.example', 'reader@example.com', 'Hello', 'Hello', 'SENT', $2, 'SMTP', 1, now()) RETURNING id`,
      [mine.id, agencyServerId],
    );
    await db.query(`INSERT INTO message_events (message_id, type, detail, server_id) VALUES ($1, 'SENT', 'via Agency relay', $2)`, [rows[0].id, agencyServerId]);
    const data = await t.gqlOk<{ message: { server: Record<string, unknown>; events: { server: Record<string, unknown> }[] } }>(
      `query($id: ID!) { message(id: $id) { server { ${SERVER_DETAILS} } events { server { ${SERVER_DETAILS} } } } }`,
      { id: rows[0].id },
      mineToken,
    );
    for (const server of [data.message.server, data.message.events[0].server]) {
      expect(server).toMatchObject({ id: agencyServerId, smtp: null, lastTest: null, account: null, assignedAccounts: [] });
      expect(server.webhook).toMatchObject({ url: null });
    }
  });

  it('a sub-account reading its own account reaches neither its agency nor its siblings (a guard: this held before the fix too)', async () => {
    const own = await t.gqlOk<{ account: { parent: unknown; subAccounts: unknown[]; deliveryServers: unknown[] } }>(
      `query($id: ID!) { account(id: $id) { parent { id } subAccounts { id } deliveryServers { id } } }`,
      { id: mine.id },
      mineToken,
    );
    expect(own.account).toEqual({ parent: null, subAccounts: [], deliveryServers: [] });
    const other = await t.gql(`query($id: ID!) { account(id: $id) { id } }`, { id: agency.id }, mineToken);
    expect(other.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });
});
