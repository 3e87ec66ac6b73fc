import { Client } from 'pg';
import { QueryStats } from '../../src/infra/database/query-stats';
import { TenantScope } from '../../src/modules/accounts/tenant-scope.service';
import { newAgency, newSubAccount, newToken } from '../factories/accounts';
import { createTestApp, type TestApp } from '../utils/create-test-app';

/**
 * QueryStats counts every query of this process, so the apps here keep their background passes
 * (sweeper, campaign completion, launch recovery, early webhook events, all every
 * SWEEP_INTERVAL_MS) out of the counts: none runs within a test.
 */
const NO_BACKGROUND_PASSES = { SWEEP_INTERVAL_MS: '600000' };

describe('accounts', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(NO_BACKGROUND_PASSES);
  });
  afterAll(() => t.close());

  const countAccounts = async (): Promise<number> => {
    const client = new Client({ connectionString: t.databaseUrl });
    await client.connect();
    try {
      return Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM accounts')).rows[0].n);
    } finally {
      await client.end();
    }
  };

  it('creates an agency with defaults and reads it back', async () => {
    const created = await t.gqlOk<{ createAccount: Record<string, unknown> }>(
      `mutation { createAccount(input: { name: "  Acme Agency ", timezone: "Asia/Kolkata" }) {
        id name timezone kind onQuotaExhausted addons effectiveAddons parent { id } subAccounts { id } createdAt } }`,
    );
    expect(created.createAccount).toMatchObject({
      name: 'Acme Agency',
      timezone: 'Asia/Kolkata',
      kind: 'AGENCY',
      onQuotaExhausted: 'WAIT',
      addons: [],
      effectiveAddons: [],
      parent: null,
      subAccounts: [],
    });
    expect(created.createAccount.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const read = await t.gqlOk<{ account: { id: string; name: string } }>(`query($id: ID!) { account(id: $id) { id name } }`, { id: created.createAccount.id });
    expect(read.account.name).toBe('Acme Agency');
  });

  it('creates sub-accounts and resolves parent and subAccounts', async () => {
    const agency = await newAgency(t);
    const a = await newSubAccount(t, agency.id, { name: 'Sub A', timezone: 'Europe/Berlin' });
    await newSubAccount(t, agency.id, { name: 'Sub B' });
    const data = await t.gqlOk<{ account: { kind: string; subAccounts: { name: string; kind: string; parent: { id: string } }[] } }>(
      `query($id: ID!) { account(id: $id) { kind subAccounts { name kind parent { id } } } }`,
      { id: agency.id },
    );
    expect(data.account.kind).toBe('AGENCY');
    expect(data.account.subAccounts).toEqual([
      { name: 'Sub A', kind: 'SUB_ACCOUNT', parent: { id: agency.id } },
      { name: 'Sub B', kind: 'SUB_ACCOUNT', parent: { id: agency.id } },
    ]);
    expect(a.timezone).toBe('Europe/Berlin');
  });

  it('updates only the fields given', async () => {
    const agency = await newAgency(t, { name: 'Before', timezone: 'UTC' });
    const data = await t.gqlOk<{ updateAccount: Record<string, unknown> }>(
      `mutation($id: ID!) { updateAccount(id: $id, input: { onQuotaExhausted: FAILOVER, timezone: "America/New_York" }) { name timezone onQuotaExhausted } }`,
      { id: agency.id },
    );
    expect(data.updateAccount).toEqual({ name: 'Before', timezone: 'America/New_York', onQuotaExhausted: 'FAILOVER' });
  });

  it("writes only the fields given: a rename does not put back add-ons an ADMIN removed after the rename's read", async () => {
    const agency = await newAgency(t, { name: 'Racing' });
    await t.gqlOk(`mutation($id: ID!) { setAccountAddons(accountId: $id, addons: [CUSTOM_SMTP]) { id } }`, { id: agency.id });
    const { token } = await newToken(t, agency.id);
    const db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    const scope = t.app.get(TenantScope);
    const read = scope.account.bind(scope);
    // The ADMIN's removal commits right after the rename has read the account.
    const spy = jest.spyOn(scope, 'account').mockImplementationOnce(async (viewer, id) => {
      const account = await read(viewer, id);
      await db.query(`UPDATE accounts SET addons = '{}' WHERE id = $1`, [agency.id]);
      return account;
    });
    try {
      const data = await t.gqlOk<{ updateAccount: unknown }>(`mutation($id: ID!) { updateAccount(id: $id, input: { name: "Renamed" }) { name addons } }`, { id: agency.id }, token);
      expect(data.updateAccount).toEqual({ name: 'Renamed', addons: [] });
      expect((await db.query('SELECT name, addons FROM accounts WHERE id = $1', [agency.id])).rows[0]).toEqual({ name: 'Renamed', addons: [] });
    } finally {
      spy.mockRestore();
      await db.end();
    }
  });

  it('refuses an invalid timezone naming the field, and stores nothing', async () => {
    const before = await countAccounts();
    for (const timezone of ['Mars/Olympus', '+05:30', '', 'UTC; DROP TABLE accounts']) {
      const res = await t.gql(`mutation($tz: String!) { createAccount(input: { name: "X", timezone: $tz }) { id } }`, { tz: timezone });
      expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['timezone'] });
      expect(res.errors?.[0].message).toMatch(/timezone/);
    }
    expect(await countAccounts()).toBe(before);
    const agency = await newAgency(t);
    const res = await t.gql(`mutation($id: ID!) { updateAccount(id: $id, input: { timezone: "Nowhere/Land" }) { id } }`, { id: agency.id });
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['timezone'] });
    const read = await t.gqlOk<{ account: { timezone: string } }>(`query($id: ID!) { account(id: $id) { timezone } }`, { id: agency.id });
    expect(read.account.timezone).toBe('UTC');
  });

  it('refuses a sub-account of a sub-account, naming parentId', async () => {
    const agency = await newAgency(t);
    const sub = await newSubAccount(t, agency.id);
    const before = await countAccounts();
    const res = await t.gql(`mutation($p: ID!) { createAccount(input: { name: "Deep", timezone: "UTC", parentId: $p }) { id } }`, { p: sub.id });
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['parentId'] });
    expect(await countAccounts()).toBe(before);
  });

  it('paginates accounts newest first with stable cursors and validates first', async () => {
    const agency = await newAgency(t, { name: 'Paging Agency' });
    const subs = [];
    for (let i = 0; i < 5; i++) subs.push(await newSubAccount(t, agency.id, { name: `Paging ${i}` }));
    const { token } = await newToken(t, agency.id);
    type Page = { accounts: { edges: { cursor: string; node: { name: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null }; totalCount: number } };
    const q = `query($after: String) { accounts(first: 4, after: $after) { edges { cursor node { name } } pageInfo { hasNextPage endCursor } totalCount } }`;
    const first = await t.gqlOk<Page>(q, {}, token);
    expect(first.accounts.totalCount).toBe(6);
    expect(first.accounts.edges.map((e) => e.node.name)).toEqual(['Paging 4', 'Paging 3', 'Paging 2', 'Paging 1']);
    expect(first.accounts.pageInfo.hasNextPage).toBe(true);
    await newSubAccount(t, agency.id, { name: 'Paging new' });
    const second = await t.gqlOk<Page>(q, { after: first.accounts.pageInfo.endCursor }, token);
    expect(second.accounts.edges.map((e) => e.node.name)).toEqual(['Paging 0', 'Paging Agency']);
    expect(second.accounts.pageInfo.hasNextPage).toBe(false);

    const search = await t.gqlOk<Page>(`query { accounts(search: "paging 3") { edges { cursor node { name } } pageInfo { hasNextPage endCursor } totalCount } }`, {}, token);
    expect(search.accounts.edges.map((e) => e.node.name)).toEqual(['Paging 3']);

    for (const first of [0, 501]) {
      const res = await t.gql(`query($first: Int) { accounts(first: $first) { totalCount } }`, { first });
      expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['first'] });
    }
    const bad = await t.gql(`query { accounts(after: "not-a-cursor") { totalCount } }`);
    expect(bad.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['after'] });
  });

  it('sets add-ons (ADMIN only) and an agency add-on covers its sub-accounts', async () => {
    const agency = await newAgency(t);
    const sub = await newSubAccount(t, agency.id);
    const { token } = await newToken(t, agency.id);
    const denied = await t.gql(`mutation($id: ID!) { setAccountAddons(accountId: $id, addons: [CUSTOM_SMTP]) { id } }`, { id: agency.id }, token);
    expect(denied.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    await t.gqlOk(`mutation($id: ID!) { setAccountAddons(accountId: $id, addons: [CUSTOM_SMTP, CUSTOM_SMTP]) { id } }`, { id: agency.id });
    const data = await t.gqlOk<{ account: { addons: string[]; effectiveAddons: string[] } }>(`query($id: ID!) { account(id: $id) { addons effectiveAddons } }`, { id: sub.id });
    expect(data).toEqual({ account: { addons: [], effectiveAddons: ['CUSTOM_SMTP'] } });
  });

  it('resolves nested parent and subAccounts with a number of queries that does not grow with the list', async () => {
    const stats = t.app.get(QueryStats);
    const q = `query($first: Int) { accounts(first: $first) { edges { node { id parent { id effectiveAddons } subAccounts { id parent { name } } effectiveAddons } } } }`;
    const measure = async (agencies: number): Promise<number> => {
      const t2 = await createTestApp(NO_BACKGROUND_PASSES);
      try {
        for (let i = 0; i < agencies; i++) {
          const agency = await newAgency(t2);
          await newSubAccount(t2, agency.id);
          await newSubAccount(t2, agency.id);
        }
        await t2.gqlOk(q, { first: 100 }); // warm-up (token lookup caching, prepared plans)
        const before = t2.app.get(QueryStats).count;
        await t2.gqlOk(q, { first: 100 });
        return t2.app.get(QueryStats).count - before;
      } finally {
        await t2.close();
      }
    };
    expect(stats).toBeInstanceOf(QueryStats);
    const small = await measure(2);
    const large = await measure(8);
    expect(large).toBe(small);
    expect(large).toBeLessThanOrEqual(5);
  });
});
