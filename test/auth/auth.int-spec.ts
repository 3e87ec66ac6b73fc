import { Client } from 'pg';
import { newAgency, newSubAccount, newToken } from '../factories/accounts';
import { createTestApp, type TestApp } from '../utils/create-test-app';

describe('auth and tenant scoping', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const viewerQuery = `query { viewer { role account { id } } }`;

  it('refuses a request without a token, with a malformed header, and with an unknown token', async () => {
    for (const token of [null, 'not-a-real-token']) {
      const res = await t.gql(viewerQuery, {}, token);
      expect(res.status).toBe(401);
      expect(res.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
      expect(res.data).toBeUndefined();
    }
    const res = await t.http().post('/graphql').set('authorization', 'Basic abc').send({ query: viewerQuery });
    expect(res.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    // The 401 names the scheme it wants, and says when a token was given but is not valid.
    expect(res.headers['www-authenticate']).toBe('Bearer');
    const unknown = await t.http().post('/graphql').set('authorization', 'Bearer not-a-real-token').send({ query: viewerQuery });
    expect(unknown.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
  });

  it('answers nothing without a token, even an operation that reaches no resolver (introspection, __typename) or does not parse', async () => {
    for (const query of ['{ __typename }', '{ __schema { mutationType { fields { name } } } }', '{ __type(name: "Account") { fields { name } } }', '{ not parsed']) {
      const res = await t.gql(query, {}, null);
      expect({ query, status: res.status, codes: res.errors?.map((e) => e.extensions?.code), data: res.data }).toEqual({ query, status: 401, codes: ['UNAUTHENTICATED'], data: undefined });
      expect(JSON.stringify(res.errors)).not.toMatch(/createAccount|sendEmail/);
    }
    // With a token, introspection answers.
    const introspected = await t.gqlOk<{ __type: { name: string } }>('{ __type(name: "Account") { name } }');
    expect(introspected.__type.name).toBe('Account');
  });

  it('knows the ADMIN bootstrap token and account tokens', async () => {
    expect(await t.gqlOk(viewerQuery)).toEqual({ viewer: { role: 'ADMIN', account: null } });
    const agency = await newAgency(t);
    const { token } = await newToken(t, agency.id);
    expect(token).toMatch(/^mr_[A-Za-z0-9_-]{43}$/);
    expect(await t.gqlOk(viewerQuery, {}, token)).toEqual({ viewer: { role: 'ACCOUNT', account: { id: agency.id } } });
  });

  it('stores tokens hashed, lists live ones, and a revoked token neither lists nor authenticates', async () => {
    const agency = await newAgency(t);
    const kept = await newToken(t, agency.id, 'kept');
    const revoked = await newToken(t, agency.id, 'revoked');
    await t.gqlOk(viewerQuery, {}, kept.token);

    const client = new Client({ connectionString: t.databaseUrl });
    await client.connect();
    const dump = JSON.stringify((await client.query('SELECT * FROM api_tokens')).rows);
    await client.end();
    expect(dump).not.toContain(kept.token);
    expect(dump).not.toContain(kept.token.slice(3));

    expect(await t.gqlOk(`mutation($id: ID!) { revokeApiToken(id: $id) }`, { id: revoked.id }, kept.token)).toEqual({ revokeApiToken: true });
    const after = await t.gql(viewerQuery, {}, revoked.token);
    expect(after.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    const list = await t.gqlOk<{ apiTokens: { id: string; name: string; role: string; lastUsedAt: string | null; account: { id: string } }[] }>(
      `query { apiTokens { id name role lastUsedAt account { id } } }`,
      {},
      kept.token,
    );
    expect(list.apiTokens.map((x) => x.name)).toEqual(['kept']);
    expect(list.apiTokens[0].lastUsedAt).not.toBeNull();
    expect(list.apiTokens[0].account.id).toBe(agency.id);
  });

  it('an agency token reaches its sub-accounts; a sub-account token only itself', async () => {
    const agency = await newAgency(t);
    const subA = await newSubAccount(t, agency.id);
    const subB = await newSubAccount(t, agency.id);
    const otherAgency = await newAgency(t);
    const agencyToken = (await newToken(t, agency.id)).token;
    const subAToken = (await newToken(t, subA.id)).token;
    const read = `query($id: ID!) { account(id: $id) { id name } }`;

    expect((await t.gqlOk<{ account: { id: string } }>(read, { id: subA.id }, agencyToken)).account.id).toBe(subA.id);
    const rename = await t.gqlOk<{ updateAccount: { name: string } }>(
      `mutation($id: ID!) { updateAccount(id: $id, input: { name: "Renamed by agency" }) { name } }`,
      { id: subB.id },
      agencyToken,
    );
    expect(rename.updateAccount.name).toBe('Renamed by agency');

    for (const [token, target] of [
      [subAToken, subB.id],
      [subAToken, agency.id],
      [agencyToken, otherAgency.id],
    ]) {
      const res = await t.gql(read, { id: target }, token);
      expect(res.errors?.[0].extensions?.code).toBe('NOT_FOUND');
      const upd = await t.gql(`mutation($id: ID!) { updateAccount(id: $id, input: { name: "hijack" }) { id } }`, { id: target }, token);
      expect(upd.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    }
    const stillNamed = await t.gqlOk<{ account: { name: string } }>(read, { id: otherAgency.id });
    expect(stillNamed.account.name).not.toBe('hijack');

    const list = await t.gqlOk<{ accounts: { edges: { node: { id: string } }[] } }>(`query { accounts { edges { node { id } } } }`, {}, subAToken);
    expect(list.accounts.edges.map((e) => e.node.id)).toEqual([subA.id]);
    const parent = await t.gqlOk<{ account: { parent: unknown } }>(`query($id: ID!) { account(id: $id) { parent { id } } }`, { id: subA.id }, subAToken);
    expect(parent.account.parent).toBeNull();
  });

  it('only ADMIN creates agencies and ADMIN tokens; a sub-account cannot create accounts or reach sibling tokens', async () => {
    const agency = await newAgency(t);
    const sub = await newSubAccount(t, agency.id);
    const sibling = await newSubAccount(t, agency.id);
    const agencyToken = (await newToken(t, agency.id)).token;
    const subToken = (await newToken(t, sub.id)).token;
    const siblingToken = await newToken(t, sibling.id);

    const agencyCreate = await t.gql(`mutation { createAccount(input: { name: "Rogue", timezone: "UTC" }) { id } }`, {}, agencyToken);
    expect(agencyCreate.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const adminToken = await t.gql(`mutation { createApiToken(input: { name: "x" }) { token } }`, {}, agencyToken);
    expect(adminToken.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const subCreate = await t.gql(`mutation($p: ID!) { createAccount(input: { name: "Nope", timezone: "UTC", parentId: $p }) { id } }`, { p: agency.id }, subToken);
    expect(subCreate.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    const made = await t.gqlOk<{ createAccount: { kind: string } }>(
      `mutation($p: ID!) { createAccount(input: { name: "By agency", timezone: "UTC", parentId: $p }) { kind } }`,
      { p: agency.id },
      agencyToken,
    );
    expect(made.createAccount.kind).toBe('SUB_ACCOUNT');

    const listSibling = await t.gql(`query($id: ID!) { apiTokens(accountId: $id) { id } }`, { id: sibling.id }, subToken);
    expect(listSibling.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    const revokeSibling = await t.gql(`mutation($id: ID!) { revokeApiToken(id: $id) }`, { id: siblingToken.id }, subToken);
    expect(revokeSibling.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    expect((await t.gqlOk(viewerQuery, {}, siblingToken.token)).viewer).toMatchObject({ role: 'ACCOUNT' });
  });

  it('an ADMIN token created through the API works like the bootstrap one', async () => {
    const { token } = await newToken(t, null, 'ops');
    expect(await t.gqlOk(viewerQuery, {}, token)).toEqual({ viewer: { role: 'ADMIN', account: null } });
  });
});
