import { Client } from 'pg';
import { newAgency, newToken } from '../factories/accounts';
import { createServer, SERVER_FIELDS, type ServerView, SINK_USER, smtpServerInput, type TestView } from '../factories/delivery-servers';
import { SendGridFake } from '../fakes/sendgrid-fake';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { SmtpSink } from '../utils/smtp-sink';
import { heldAfterRead as heldAfterReadIn } from './held-after-read';

const STRANGER_USER = { user: SINK_USER.user, pass: 'stranger-password-456' };
const UPDATE = `mutation($id: ID!, $input: UpdateDeliveryServerInput!) { updateDeliveryServer(id: $id, input: $input) { ${SERVER_FIELDS} } }`;

describe('updating a delivery server', () => {
  let t: TestApp;
  let sink: SmtpSink;
  /** Someone else's SMTP server: records every login tried on it. */
  let stranger: SmtpSink;
  let sendgrid: SendGridFake;
  beforeAll(async () => {
    sink = new SmtpSink({ users: [SINK_USER] });
    await sink.start();
    stranger = new SmtpSink({ users: [STRANGER_USER] });
    await stranger.start();
    sendgrid = new SendGridFake({ apiKeys: ['SG.good-key-0001', 'SG.good-key-0002'], verifiedSenders: [{ email: 'news@verified.example', verified: true }] });
    await sendgrid.start();
    t = await createTestApp({ SENDGRID_API_URL: sendgrid.url });
  });
  afterAll(async () => {
    await t.close();
    await sink.stop();
    await stranger.stop();
    await sendgrid.stop();
  });

  const connect = async (): Promise<Client> => {
    const client = new Client({ connectionString: t.databaseUrl });
    await client.connect();
    return client;
  };
  const row = async (id: string): Promise<Record<string, unknown>> => {
    const client = await connect();
    try {
      return (await client.query('SELECT * FROM delivery_servers WHERE id = $1', [id])).rows[0] as Record<string, unknown>;
    } finally {
      await client.end();
    }
  };
  const update = (id: string, input: Record<string, unknown>, token?: string) => t.gql<{ updateDeliveryServer: ServerView }>(UPDATE, { id, input }, token);
  const test = (id: string, extra: Record<string, unknown> = {}, token?: string) =>
    t.gqlOk<{ testSmtpServer: TestView & { server: { verifiedAt: string | null } } }>(
      `mutation($id: ID!, $to: String, $transport: TransportKind) { testSmtpServer(id: $id, to: $to, transport: $transport) {
        ok to transport testedAt error { code smtpStep } server { verifiedAt } } }`,
      { id, to: 'ops@example.com', ...extra },
      token,
    );
  const smtp = (overrides: Record<string, unknown> = {}) => ({ host: '127.0.0.1', port: sink.port, security: 'NONE', username: SINK_USER.user, ...overrides });

  const heldAfterRead = <T>(start: () => Promise<T>, meanwhile: () => Promise<void>): Promise<T> => heldAfterReadIn(t.databaseUrl, start, meanwhile);

  describe('a stored SMTP password goes only where it was given for', () => {
    it.each([
      ['the host changes', { host: 'smtp.elsewhere.example' }, 'NONE'],
      ['the port changes', { port: 2526 }, 'NONE'],
      ['the username changes', { username: 'someone-else' }, 'NONE'],
      ['security drops from TLS to NONE', { security: 'NONE' }, 'TLS'],
      ['security drops from STARTTLS to NONE', { security: 'NONE' }, 'STARTTLS'],
    ])('refuses an update leaving the password out when %s, naming the field, and changes nothing', async (_label, change, security) => {
      const server = await createServer(t, smtpServerInput(null, sink.port, { credentials: { smtp: smtp({ security, password: SINK_USER.pass }) } }));
      const before = await row(server.id);
      const res = await update(server.id, { name: 'Renamed', credentials: { smtp: smtp({ security, ...change }) } });
      expect(res.errors).toHaveLength(1);
      expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['credentials.smtp.password'] });
      expect(res.errors?.[0].message).toMatch(/password/);
      expect(JSON.stringify(res.errors)).not.toContain(SINK_USER.pass);
      expect(await row(server.id)).toEqual(before);
    });

    it('a manager cannot point a server at another host and have a test send it the stored password', async () => {
      const agency = await newAgency(t);
      const token = (await newToken(t, agency.id)).token;
      const server = await createServer(t, smtpServerInput(agency.id, sink.port));
      const moved = await update(server.id, { credentials: { smtp: smtp({ port: stranger.port }) } }, token);
      expect(moved.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['credentials.smtp.password'] });
      const sent = sink.messages.length;
      expect((await test(server.id, {}, token)).testSmtpServer).toMatchObject({ ok: true, transport: 'SMTP' });
      await sink.waitFor(sent + 1);
      expect(stranger.logins).toEqual([]);
      expect(stranger.messages).toEqual([]);
      // With its own password given, the server may go anywhere.
      const given = await update(server.id, { credentials: { smtp: smtp({ port: stranger.port, password: STRANGER_USER.pass }) } }, token);
      expect(given.errors).toBeUndefined();
      expect(given.data?.updateDeliveryServer).toMatchObject({ status: 'PAUSED', verifiedAt: null, smtp: { host: '127.0.0.1', port: stranger.port, security: 'NONE', username: SINK_USER.user } });
      expect((await test(server.id, {}, token)).testSmtpServer.ok).toBe(true);
      expect(stranger.logins).toEqual([{ ...STRANGER_USER, accepted: true }]);
    });
  });

  describe('writes only what it changes', () => {
    it('a name change that read the server before a test and an activation finished keeps their outcome', async () => {
      const agency = await newAgency(t);
      const token = (await newToken(t, agency.id)).token;
      const server = await createServer(t, smtpServerInput(agency.id, sink.port));
      let tested: (TestView & { server: { verifiedAt: string | null } }) | undefined;
      const renamed = await heldAfterRead(
        () => update(server.id, { name: 'Renamed' }, token),
        async () => {
          tested = (await test(server.id)).testSmtpServer;
          await t.gqlOk(`mutation($id: ID!) { activateDeliveryServer(id: $id) { id } }`, { id: server.id });
        },
      );
      expect(tested).toMatchObject({ ok: true });
      expect(renamed.errors).toBeUndefined();
      const expected = { name: 'Renamed', status: 'ACTIVE', verifiedAt: tested?.server.verifiedAt, lastTest: { ok: true, testedAt: tested?.testedAt } };
      expect(renamed.data?.updateDeliveryServer).toMatchObject(expected);
      const read = await t.gqlOk<{ deliveryServer: ServerView }>(`query($id: ID!) { deliveryServer(id: $id) { ${SERVER_FIELDS} } }`, { id: server.id });
      expect(read.deliveryServer).toMatchObject(expected);
    });

    it('an update of one credentials block keeps an SMTP password saved while it ran', async () => {
      const agency = await newAgency(t);
      const token = (await newToken(t, agency.id)).token;
      const server = await createServer(t, {
        accountId: agency.id,
        name: 'SendGrid with relay',
        provider: 'SENDGRID',
        senderAddress: 'news@verified.example',
        credentials: { sendgrid: { apiKey: 'SG.good-key-0001' }, smtp: smtp({ password: 'outdated-password' }) },
      });
      const newKey = await heldAfterRead(
        () => update(server.id, { credentials: { sendgrid: { apiKey: 'SG.good-key-0002' } } }, token),
        async () => {
          await t.gqlOk(`mutation($id: ID!, $input: UpdateDeliveryServerInput!) { updateDeliveryServer(id: $id, input: $input) { id } }`, {
            id: server.id,
            input: { credentials: { smtp: smtp({ password: SINK_USER.pass }) } },
          });
        },
      );
      expect(newKey.errors).toBeUndefined();
      expect(newKey.data?.updateDeliveryServer).toMatchObject({ api: { keyHint: '…0002' }, status: 'PAUSED', verifiedAt: null });
      expect((await test(server.id, { transport: 'SMTP' })).testSmtpServer).toMatchObject({ ok: true, transport: 'SMTP' });
      expect((await test(server.id, { transport: 'API' })).testSmtpServer).toMatchObject({ ok: true, transport: 'API' });
    });
  });
});
