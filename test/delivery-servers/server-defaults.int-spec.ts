import { newAgency, newSubAccount, newToken } from '../factories/accounts';
import { createServer, type ServerView, SINK_USER, smtpServerInput } from '../factories/delivery-servers';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { rawRows as rawRowsOf } from '../utils/test-db';
import { SmtpSink } from '../utils/smtp-sink';
import { heldAfterRead } from './held-after-read';

const SET_DEFAULT = `mutation($id: ID!, $s: DefaultScope!) { setDefaultSmtp(id: $id, scope: $s) { id sendingDomain isDefaultForAccount isDefaultForSubAccounts } }`;
const ASSIGN = `mutation($id: ID!, $a: [ID!]!) { assignSmtpAccounts(id: $id, accountIds: $a) { assignedAccounts { id } } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateDeliveryServerInput!) { updateDeliveryServer(id: $id, input: $input) { id sendingDomain isDefaultForAccount isDefaultForSubAccounts } }`;
const DELETE = `mutation($id: ID!) { deleteDeliveryServer(id: $id) }`;

describe('defaults and assignments against concurrent changes of the server', () => {
  let t: TestApp;
  let sink: SmtpSink;
  beforeAll(async () => {
    sink = new SmtpSink({ users: [SINK_USER] });
    await sink.start();
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
    await sink.stop();
  });

  const rawRows = (sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> => rawRowsOf(t.databaseUrl, sql, params);
  const row = async (id: string): Promise<Record<string, unknown> | undefined> => (await rawRows('SELECT * FROM delivery_servers WHERE id = $1', [id]))[0];
  const assignedIds = async (serverId: string): Promise<string[]> =>
    (await rawRows('SELECT account_id FROM server_assignments WHERE server_id = $1 ORDER BY account_id', [serverId])).map((r) => r.account_id as string);
  const flags = async (id: string): Promise<Pick<ServerView, 'isDefaultForAccount' | 'isDefaultForSubAccounts'>> =>
    (await t.gqlOk<{ deliveryServer: ServerView }>(`query($id: ID!) { deliveryServer(id: $id) { isDefaultForAccount isDefaultForSubAccounts } }`, { id })).deliveryServer;
  const setDefault = (id: string, scope: string, token?: string) =>
    t.gql<{ setDefaultSmtp: Pick<ServerView, 'id' | 'sendingDomain' | 'isDefaultForAccount' | 'isDefaultForSubAccounts'> }>(SET_DEFAULT, { id, s: scope }, token);
  const server = (accountId: string, sendingDomain: string | null = null) => createServer(t, smtpServerInput(accountId, sink.port, { sendingDomain }));

  describe('assignSmtpAccounts', () => {
    it('two assigns at once leave exactly one of the two sets, never their union or a duplicate-key error', async () => {
      const agency = await newAgency(t);
      const [s1, s2, s3] = [await newSubAccount(t, agency.id), await newSubAccount(t, agency.id), await newSubAccount(t, agency.id)];
      const sets = {
        disjoint: [[s1.id], [s2.id, s3.id]],
        overlapping: [
          [s1.id, s2.id],
          [s2.id, s3.id],
        ],
      };
      for (let round = 0; round < 10; round++) {
        for (const [a, b] of Object.values(sets)) {
          const target = await server(agency.id);
          const results = await Promise.all([t.gql(ASSIGN, { id: target.id, a }), t.gql(ASSIGN, { id: target.id, a: b })]);
          expect(results.map((r) => r.errors)).toEqual([undefined, undefined]);
          expect([[...a].sort(), [...b].sort()]).toContainEqual(await assignedIds(target.id));
        }
      }
    });

    it('an assign whose server is deleted after it was read answers NOT_FOUND, not an internal error', async () => {
      const agency = await newAgency(t);
      const token = (await newToken(t, agency.id)).token;
      const sub = await newSubAccount(t, agency.id);
      const target = await server(agency.id);
      const res = await heldAfterRead(
        t.databaseUrl,
        () => t.gql(ASSIGN, { id: target.id, a: [sub.id] }, token),
        async () => {
          await t.gqlOk(DELETE, { id: target.id });
        },
      );
      expect(res.errors?.[0].extensions?.code).toBe('NOT_FOUND');
      expect(await rawRows('SELECT 1 FROM server_assignments WHERE server_id = $1', [target.id])).toEqual([]);
    });
  });

  describe('setDefaultSmtp', () => {
    it('uses the sending domain the server has when it writes, not the one it read', async () => {
      const agency = await newAgency(t);
      const token = (await newToken(t, agency.id)).token;
      const acmeDefault = await server(agency.id, 'acme.example');
      await setDefault(acmeDefault.id, 'ACCOUNT');
      const moving = await server(agency.id, 'acme.example');
      const res = await heldAfterRead(
        t.databaseUrl,
        () => setDefault(moving.id, 'ACCOUNT', token),
        async () => {
          await t.gqlOk(UPDATE, { id: moving.id, input: { sendingDomain: 'beta.example' } });
        },
      );
      expect(res.errors).toBeUndefined();
      expect(res.data?.setDefaultSmtp).toMatchObject({ sendingDomain: 'beta.example', isDefaultForAccount: true });
      // acme.example keeps its default: the server left that domain before it took the flag.
      expect(await flags(acmeDefault.id)).toEqual({ isDefaultForAccount: true, isDefaultForSubAccounts: false });
      expect(await flags(moving.id)).toEqual({ isDefaultForAccount: true, isDefaultForSubAccounts: false });
    });

    it('answers NOT_FOUND for a server deleted after it was read, and leaves the previous default alone', async () => {
      const agency = await newAgency(t);
      const token = (await newToken(t, agency.id)).token;
      const previous = await server(agency.id, 'acme.example');
      await setDefault(previous.id, 'SUB_ACCOUNTS');
      const doomed = await server(agency.id, 'acme.example');
      const res = await heldAfterRead(
        t.databaseUrl,
        () => setDefault(doomed.id, 'SUB_ACCOUNTS', token),
        async () => {
          await t.gqlOk(DELETE, { id: doomed.id });
        },
      );
      expect(res.errors?.[0].extensions?.code).toBe('NOT_FOUND');
      expect(await flags(previous.id)).toEqual({ isDefaultForAccount: false, isDefaultForSubAccounts: true });
    });
  });

  describe('updateDeliveryServer of a default', () => {
    it.each([['ACCOUNT'], ['SUB_ACCOUNTS']])('refuses to move a %s default onto a domain that has one, naming sendingDomain, and applies nothing of the update', async (scope) => {
      const agency = await newAgency(t);
      const there = await server(agency.id, 'acme.example');
      await setDefault(there.id, scope);
      const moving = await server(agency.id, 'beta.example');
      await setDefault(moving.id, scope);
      const before = await row(moving.id);
      const res = await t.gql(UPDATE, {
        id: moving.id,
        input: { name: 'Renamed', sendingDomain: 'acme.example', credentials: { smtp: { host: '127.0.0.1', port: sink.port, security: 'NONE', username: 'other-user', password: 'other-password' } } },
      });
      expect(res.errors).toHaveLength(1);
      expect(res.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', fields: ['sendingDomain'] });
      expect(res.errors?.[0].message).toMatch(/^sendingDomain /);
      expect(res.errors?.[0].message).toContain('acme.example');
      expect(res.errors?.[0].message).toContain(scope);
      expect(await row(moving.id)).toEqual(before);
    });

    it('refuses to clear the domain of a default when the owner has a default for any domain', async () => {
      const agency = await newAgency(t);
      await setDefault((await server(agency.id)).id, 'ACCOUNT');
      const pinned = await server(agency.id, 'acme.example');
      await setDefault(pinned.id, 'ACCOUNT');
      const res = await t.gql(UPDATE, { id: pinned.id, input: { sendingDomain: null } });
      expect(res.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', fields: ['sendingDomain'] });
      expect(res.errors?.[0].message).toContain('any domain');
      expect((await row(pinned.id))?.sending_domain).toBe('acme.example');
    });

    it('otherwise moves the flag with the server, and a server with no flag moves freely', async () => {
      const agency = await newAgency(t);
      const acmeDefault = await server(agency.id, 'acme.example');
      await setDefault(acmeDefault.id, 'ACCOUNT');
      const moving = await server(agency.id, 'beta.example');
      await setDefault(moving.id, 'ACCOUNT');
      const moved = await t.gqlOk<{ updateDeliveryServer: ServerView }>(UPDATE, { id: moving.id, input: { sendingDomain: 'gamma.example' } });
      expect(moved.updateDeliveryServer).toMatchObject({ sendingDomain: 'gamma.example', isDefaultForAccount: true });
      const plain = await server(agency.id, 'beta.example');
      const joined = await t.gqlOk<{ updateDeliveryServer: ServerView }>(UPDATE, { id: plain.id, input: { sendingDomain: 'acme.example' } });
      expect(joined.updateDeliveryServer).toMatchObject({ sendingDomain: 'acme.example', isDefaultForAccount: false });
      expect(await flags(acmeDefault.id)).toEqual({ isDefaultForAccount: true, isDefaultForSubAccounts: false });
    });
  });

  it('activateDeliveryServer on a server deleted after it was read answers NOT_FOUND, not SERVER_NOT_VERIFIED', async () => {
    const agency = await newAgency(t);
    const token = (await newToken(t, agency.id)).token;
    const target = await server(agency.id);
    const tested = await t.gqlOk<{ testSmtpServer: { ok: boolean } }>(`mutation($id: ID!) { testSmtpServer(id: $id, to: "ops@example.com") { ok } }`, { id: target.id });
    expect(tested.testSmtpServer.ok).toBe(true);
    const res = await heldAfterRead(
      t.databaseUrl,
      () => t.gql(`mutation($id: ID!) { activateDeliveryServer(id: $id) { status } }`, { id: target.id }, token),
      async () => {
        await t.gqlOk(DELETE, { id: target.id });
      },
    );
    expect(res.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });
});
