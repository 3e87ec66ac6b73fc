import { type ExecutionResult, graphql, type GraphQLSchema } from 'graphql';
import { createMockContext, MOCK_TOKENS, mockedSchema } from '../../src/mock/mock-schema';

const now = (): Date => new Date('2026-12-07T12:00:00.000Z');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function run(schema: GraphQLSchema, source: string, variableValues?: Record<string, unknown>, token: string | null = MOCK_TOKENS.admin): Promise<ExecutionResult> {
  return graphql({ schema, source, variableValues, contextValue: createMockContext(token) });
}

async function ok<T>(schema: GraphQLSchema, source: string, variables?: Record<string, unknown>, token?: string): Promise<T> {
  const res = await run(schema, source, variables, token);
  expect(res.errors).toBeUndefined();
  return res.data as T;
}

async function agencyId(schema: GraphQLSchema): Promise<string> {
  return (await ok<{ viewer: { account: { id: string } } }>(schema, '{ viewer { account { id } } }', undefined, MOCK_TOKENS.agency)).viewer.account.id;
}

const CREATE_ACCOUNT = 'mutation($input: CreateAccountInput!) { createAccount(input: $input) { id name timezone kind onQuotaExhausted parent { id } subAccounts { id } createdAt } }';

describe('npm run mock: mutations echo their input and validate it', () => {
  it('createAccount returns what it was given, and the account is there afterwards', async () => {
    const schema = mockedSchema(undefined, { now });
    const parentId = await agencyId(schema);
    const input = { name: 'Harbor Bakery', timezone: 'Asia/Kathmandu', parentId, onQuotaExhausted: 'FAILOVER' };
    const { createAccount } = await ok<{ createAccount: Record<string, unknown> & { id: string } }>(schema, CREATE_ACCOUNT, { input }, MOCK_TOKENS.agency);
    expect(createAccount).toEqual({
      id: expect.stringMatching(UUID),
      name: 'Harbor Bakery',
      timezone: 'Asia/Kathmandu',
      kind: 'SUB_ACCOUNT',
      onQuotaExhausted: 'FAILOVER',
      parent: { id: parentId },
      subAccounts: [],
      createdAt: now().toISOString(),
    });
    const again = await ok<{ account: { name: string }; accounts: { totalCount: number; edges: { node: { id: string } }[] } }>(
      schema,
      'query($id: ID!) { account(id: $id) { name } accounts(first: 1) { totalCount edges { node { id } } } }',
      { id: createAccount.id },
      MOCK_TOKENS.agency,
    );
    expect(again.account.name).toBe('Harbor Bakery');
    expect(again.accounts.totalCount).toBe(4);
    // Newest first: the account just created leads the list.
    expect(again.accounts.edges[0].node.id).toBe(createAccount.id);
  });

  it('an ADMIN creates an agency (no parentId) with the defaults', async () => {
    const schema = mockedSchema(undefined, { now });
    const { createAccount } = await ok<{ createAccount: Record<string, unknown> }>(schema, CREATE_ACCOUNT, { input: { name: '  Oak & Ivy  ', timezone: 'Australia/Lord_Howe' } });
    expect(createAccount).toMatchObject({ name: 'Oak & Ivy', timezone: 'Australia/Lord_Howe', kind: 'AGENCY', parent: null, onQuotaExhausted: 'WAIT' });
  });

  it('createAccount refuses an empty name and an unknown zone, naming both fields at once', async () => {
    const schema = mockedSchema(undefined, { now });
    const res = await run(schema, CREATE_ACCOUNT, { input: { name: '', timezone: 'Not/AZone' } });
    expect(res.data).toBeNull();
    expect(res.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', fields: ['name', 'timezone'] });
  });

  it.each(['+05:30', 'GMT+1', 'Europe/Atlantis', ''])('refuses the timezone %p', async (timezone) => {
    const schema = mockedSchema(undefined, { now });
    const res = await run(schema, CREATE_ACCOUNT, { input: { name: 'Zone test', timezone } });
    expect(res.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', fields: ['timezone'] });
  });

  it('a sub-account cannot have sub-accounts (BAD_USER_INPUT naming parentId)', async () => {
    const schema = mockedSchema(undefined, { now });
    const { viewer } = await ok<{ viewer: { account: { id: string } } }>(schema, '{ viewer { account { id } } }', undefined, MOCK_TOKENS.subAccount);
    const res = await run(schema, CREATE_ACCOUNT, { input: { name: 'Nested', timezone: 'UTC', parentId: viewer.account.id } });
    expect(res.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', fields: ['parentId'] });
  });

  it('updateAccount changes only what it is given', async () => {
    const schema = mockedSchema(undefined, { now });
    const id = await agencyId(schema);
    const { updateAccount } = await ok<{ updateAccount: Record<string, unknown> }>(
      schema,
      'mutation($id: ID!) { updateAccount(id: $id, input: { timezone: "America/Sao_Paulo" }) { name timezone onQuotaExhausted } }',
      { id },
    );
    expect(updateAccount).toEqual({ name: 'Acme Growth Agency', timezone: 'America/Sao_Paulo', onQuotaExhausted: 'WAIT' });
    const bad = await run(schema, 'mutation($id: ID!) { updateAccount(id: $id, input: { name: null }) { name } }', { id });
    expect(bad.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', fields: ['name'] });
  });

  it('createDeliveryServer saves the server PAUSED and unverified, showing only a key hint; a test verifies it; then it activates', async () => {
    const schema = mockedSchema(undefined, { now });
    const accountId = await agencyId(schema);
    const input = {
      accountId,
      name: 'Acme Mailgun',
      provider: 'MAILGUN',
      sendingDomain: 'mg.acme.io',
      quota: { daily: 500 },
      credentials: { mailgun: { apiKey: 'key-0123456789abcdef', domain: 'mg.acme.io', region: 'EU' } },
    };
    const select = '{ id name provider origin status verifiedAt sendingDomain quota { hourly daily } api { keyHint region } transports webhook { status url } account { id } }';
    const { createDeliveryServer: server } = await ok<{ createDeliveryServer: Record<string, unknown> & { id: string; webhook: { url: string } } }>(
      schema,
      `mutation($input: CreateDeliveryServerInput!) { createDeliveryServer(input: $input) ${select} }`,
      { input },
      MOCK_TOKENS.agency,
    );
    expect(server).toMatchObject({ name: 'Acme Mailgun', provider: 'MAILGUN', origin: 'DELIVERY_SERVER', status: 'PAUSED', verifiedAt: null, sendingDomain: 'mg.acme.io' });
    expect(server).toMatchObject({ quota: { hourly: null, daily: 500 }, api: { keyHint: '…cdef', region: 'EU' }, transports: ['API'], account: { id: accountId } });
    expect(server.webhook).toEqual({ status: 'REGISTERED', url: `https://mailroute.example.com/webhooks/mailgun/${server.id}` });
    expect(JSON.stringify(server)).not.toContain('0123456789ab');

    const activate = `mutation($id: ID!) { activateDeliveryServer(id: $id) { status verifiedAt } }`;
    expect((await run(schema, activate, { id: server.id }, MOCK_TOKENS.agency)).errors?.[0]?.extensions?.code).toBe('SERVER_NOT_VERIFIED');
    const tested = await ok<{ testSmtpServer: Record<string, unknown> }>(
      schema,
      'mutation($id: ID!) { testSmtpServer(id: $id, to: "ops@acme.io") { ok to error { code } transport server { id } } }',
      { id: server.id },
      MOCK_TOKENS.agency,
    );
    expect(tested.testSmtpServer).toEqual({ ok: true, to: 'ops@acme.io', error: null, transport: 'API', server: { id: server.id } });
    expect((await ok<{ activateDeliveryServer: unknown }>(schema, activate, { id: server.id }, MOCK_TOKENS.agency)).activateDeliveryServer).toEqual({
      status: 'ACTIVE',
      verifiedAt: now().toISOString(),
    });
  });

  it('createDeliveryServer names each bad field: a foreign credentials block, a bad sender, a negative pause', async () => {
    const schema = mockedSchema(undefined, { now });
    const input = {
      accountId: await agencyId(schema),
      name: 'Broken',
      provider: 'SENDGRID',
      senderAddress: 'not-an-address',
      pauseMs: -5,
      credentials: { sendgrid: { apiKey: 'SG.abcdefghijkl' }, ses: { accessKeyId: 'AKIA', secretAccessKey: 'secret-secret', region: 'eu-west-1' } },
    };
    const res = await run(schema, 'mutation($input: CreateDeliveryServerInput!) { createDeliveryServer(input: $input) { id } }', { input });
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect([...(res.errors?.[0]?.extensions?.fields as string[])].sort()).toEqual(['credentials.ses', 'pauseMs', 'senderAddress']);
  });

  it('updating credentials pauses the server and clears its verification', async () => {
    const schema = mockedSchema(undefined, { now });
    const { deliveryServers } = await ok<{ deliveryServers: { id: string; name: string }[] }>(schema, '{ deliveryServers { id name } }');
    const ses = deliveryServers.find((s) => s.name === 'Acme SES')?.id;
    const { updateDeliveryServer } = await ok<{ updateDeliveryServer: unknown }>(
      schema,
      'mutation($id: ID!) { updateDeliveryServer(id: $id, input: { credentials: { ses: { accessKeyId: "AKIANEW", secretAccessKey: "new-secret-1234", region: "us-east-1" } }, senderAddress: null }) { status verifiedAt pausedReason api { keyHint region } senderAddress name } }',
      { id: ses },
    );
    expect(updateDeliveryServer).toEqual({
      status: 'PAUSED',
      verifiedAt: null,
      pausedReason: expect.stringContaining('Credentials changed'),
      api: { keyHint: '…1234', region: 'us-east-1' },
      senderAddress: null,
      name: 'Acme SES',
    });
  });

  it('sendEmail queues a routed message, marks a suppressed recipient SUPPRESSED, and names bad fields', async () => {
    const schema = mockedSchema(undefined, { now });
    const accountId = await agencyId(schema);
    const send = 'mutation($input: SendEmailInput!) { sendEmail(input: $input) { id status from to subject server { name } error { code } source } }';
    const base = { accountId, from: 'hello@acme.io', subject: 'Hello', text: 'Hi' };
    const queued = await ok<{ sendEmail: unknown }>(schema, send, { input: { ...base, to: 'New.Customer@Example.com' } }, MOCK_TOKENS.agency);
    expect(queued.sendEmail).toMatchObject({ status: 'QUEUED', from: 'hello@acme.io', to: 'new.customer@example.com', subject: 'Hello', server: { name: 'Acme SES' }, error: null, source: 'ONE_OFF' });
    const suppressed = await ok<{ sendEmail: unknown }>(schema, send, { input: { ...base, to: 'noone@example.net' } }, MOCK_TOKENS.agency);
    expect(suppressed.sendEmail).toMatchObject({ status: 'SUPPRESSED', server: null, error: { code: 'SUPPRESSED' } });
    const bad = await run(schema, send, { input: { accountId, from: 'nope', to: 'also nope', subject: 'x' } }, MOCK_TOKENS.agency);
    expect(bad.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', fields: ['to', 'from', 'html', 'text'] });
    const offDomain = await run(schema, send, { input: { ...base, from: 'hello@elsewhere.example', to: 'a@example.com' } }, MOCK_TOKENS.agency);
    expect(offDomain.errors?.[0]?.extensions?.code).toBe('NO_ROUTE');
  });

  it('campaigns: created DRAFT with de-duplicated recipients, started SENDING, paused and resumed; bad recipients named', async () => {
    const schema = mockedSchema(undefined, { now });
    const accountId = await agencyId(schema);
    const { createCampaign } = await ok<{ createCampaign: { id: string } & Record<string, unknown> }>(
      schema,
      'mutation($a: ID!) { createCampaign(input: { accountId: $a, name: "Launch", from: "news@acme.io", subject: "We launched", html: "<p>Hi</p>", recipients: ["a@example.com", "A@example.com ", "b@example.com"] }) { id status startedAt stats { total queued } } }',
      { a: accountId },
    );
    expect(createCampaign).toMatchObject({ status: 'DRAFT', startedAt: null, stats: { total: 2, queued: 0 } });
    const step = async (mutation: string) =>
      (await ok<Record<string, { status: string; stats: { queued: number } }>>(schema, `mutation($id: ID!) { ${mutation}(id: $id) { status stats { queued } } }`, { id: createCampaign.id }))[mutation];
    expect(await step('startCampaign')).toEqual({ status: 'SENDING', stats: { queued: 2 } });
    expect((await step('pauseCampaign')).status).toBe('PAUSED');
    expect((await step('resumeCampaign')).status).toBe('SENDING');
    expect((await run(schema, 'mutation($id: ID!) { startCampaign(id: $id) { id } }', { id: createCampaign.id })).errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const bad = await run(
      schema,
      'mutation($a: ID!) { createCampaign(input: { accountId: $a, name: "X", from: "news@acme.io", subject: "S", text: "T", recipients: ["ok@example.com", "broken"] }) { id } }',
      { a: accountId },
    );
    expect(bad.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', fields: ['recipients'] });
  });

  it('createApiToken issues a token that authenticates as its account until it is revoked', async () => {
    const schema = mockedSchema(undefined, { now });
    const { accounts } = await ok<{ accounts: { edges: { node: { id: string; name: string } }[] } }>(schema, '{ accounts { edges { node { id name } } } }');
    const northwind = accounts.edges.find((e) => e.node.name === 'Northwind Marketing')?.node.id;
    const { createApiToken } = await ok<{ createApiToken: { token: string; apiToken: { id: string; name: string; role: string; account: { id: string } } } }>(
      schema,
      'mutation($a: ID!) { createApiToken(input: { name: "Website", accountId: $a }) { token apiToken { id name role account { id } } } }',
      { a: northwind },
    );
    expect(createApiToken.token).toMatch(/^mr_[A-Za-z0-9_-]{43}$/);
    expect(createApiToken.apiToken).toMatchObject({ name: 'Website', role: 'ACCOUNT', account: { id: northwind } });
    expect((await ok<{ viewer: unknown }>(schema, '{ viewer { role account { name } } }', undefined, createApiToken.token)).viewer).toEqual({
      role: 'ACCOUNT',
      account: { name: 'Northwind Marketing' },
    });
    await ok(schema, 'mutation($id: ID!) { revokeApiToken(id: $id) }', { id: createApiToken.apiToken.id });
    expect((await run(schema, '{ viewer { role } }', undefined, createApiToken.token)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('keeps state per mock instance: a new mock starts again from the seed', async () => {
    const schema = mockedSchema(undefined, { now });
    await ok(schema, CREATE_ACCOUNT, { input: { name: 'Only here', timezone: 'UTC' } });
    const count = async (s: GraphQLSchema) => (await ok<{ accounts: { totalCount: number } }>(s, '{ accounts { totalCount } }')).accounts.totalCount;
    expect(await count(schema)).toBe(5);
    expect(await count(mockedSchema(undefined, { now }))).toBe(4);
  });
});
