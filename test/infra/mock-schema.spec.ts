import { type ExecutionResult, getNamedType, graphql, type GraphQLField, type GraphQLNamedType, type GraphQLSchema, isLeafType, isNonNullType, isObjectType } from 'graphql';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMockContext, MOCK_TOKENS, mockedSchema, SCHEMA_PATH } from '../../src/mock/mock-schema';

const now = (): Date => new Date('2026-12-07T12:00:00.000Z');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

type Data = Record<string, unknown>;

async function run(schema: GraphQLSchema, source: string, variableValues?: Data, token: string = MOCK_TOKENS.admin): Promise<ExecutionResult> {
  return graphql({ schema, source, variableValues, contextValue: createMockContext(token) });
}

/** Every field without required arguments, leaves as they are and objects `depth` levels down. */
function selectionOf(type: GraphQLNamedType, depth: number): string {
  if (!isObjectType(type)) return '';
  const parts: string[] = [];
  for (const field of Object.values(type.getFields())) {
    if (field.args.some((a) => isNonNullType(a.type))) continue;
    const named = getNamedType(field.type);
    if (isLeafType(named)) parts.push(field.name);
    else if (depth > 0) parts.push(`${field.name} { ${selectionOf(named, depth - 1)} }`);
  }
  return parts.length ? parts.join(' ') : '__typename';
}

/** Calls `visit` with every key and value of a result, at any depth. */
function walk(value: unknown, visit: (key: string, value: unknown) => void): void {
  if (Array.isArray(value)) value.forEach((v) => walk(v, visit));
  else if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      visit(key, v);
      walk(v, visit);
    }
  }
}

interface Ids {
  acme: string;
  bluebird: string;
  lumen: string;
  northwind: string;
  ses: string;
  sendgrid: string;
  draft: string;
  sending: string;
  paused: string;
  message: string;
  token: string;
}

/** Ids of the seeded records, read through the API as a frontend would. */
async function seededIds(schema: GraphQLSchema): Promise<Ids> {
  const first = await run(schema, '{ accounts { edges { node { id name } } } deliveryServers { id name } apiTokens { id name } }');
  const data = first.data as { accounts: { edges: { node: { id: string; name: string } }[] }; deliveryServers: { id: string; name: string }[]; apiTokens: { id: string; name: string }[] };
  const account = (name: string): string => data.accounts.edges.find((e) => e.node.name === name)?.node.id ?? '';
  const server = (name: string): string => data.deliveryServers.find((s) => s.name === name)?.id ?? '';
  const [acme, bluebird, lumen] = [account('Acme Growth Agency'), account('Bluebird CRM'), account('Lumen Dental')];
  const second = await run(
    schema,
    `query($acme: ID!, $bluebird: ID!, $lumen: ID!) {
      a: campaigns(accountId: $acme) { edges { node { id status } } }
      b: campaigns(accountId: $bluebird) { edges { node { id status } } }
      l: campaigns(accountId: $lumen) { edges { node { id status } } }
      messages(accountId: $acme, first: 1) { edges { node { id } } }
    }`,
    { acme, bluebird, lumen },
  );
  type Campaigns = { edges: { node: { id: string; status: string } }[] };
  const more = second.data as { a: Campaigns; b: Campaigns; l: Campaigns; messages: { edges: { node: { id: string } }[] } };
  const campaign = (status: string): string => [more.a, more.b, more.l].flatMap((c) => c.edges).find((e) => e.node.status === status)?.node.id ?? '';
  return {
    acme,
    bluebird,
    lumen,
    northwind: account('Northwind Marketing'),
    ses: server('Acme SES'),
    sendgrid: server('Acme SendGrid EU'),
    draft: campaign('DRAFT'),
    sending: campaign('SENDING'),
    paused: campaign('PAUSED'),
    message: more.messages.edges[0].node.id,
    token: data.apiTokens.find((t) => t.name === 'Bluebird Zapier')?.id ?? '',
  };
}

/** Arguments a frontend would send, valid for the seeded data, for each root field that needs some. */
const ARGS: Record<string, (ids: Ids) => Data> = {
  account: (i) => ({ id: i.acme }),
  deliveryServer: (i) => ({ id: i.ses }),
  routePreview: (i) => ({ accountId: i.lumen, from: 'care@lumen.dental' }),
  message: (i) => ({ id: i.message }),
  messages: (i) => ({ accountId: i.acme }),
  campaign: (i) => ({ id: i.draft }),
  campaigns: (i) => ({ accountId: i.acme }),
  suppressions: (i) => ({ accountId: i.acme }),
  createAccount: (i) => ({ input: { name: 'Harbor Bakery', timezone: 'Asia/Kathmandu', parentId: i.acme } }),
  updateAccount: (i) => ({ id: i.bluebird, input: { name: 'Bluebird CRM GmbH' } }),
  setAccountAddons: (i) => ({ accountId: i.northwind, addons: ['CUSTOM_SMTP'] }),
  createDeliveryServer: (i) => ({
    input: { accountId: i.acme, name: 'Acme Mailgun', provider: 'MAILGUN', credentials: { mailgun: { apiKey: 'key-0123456789abcdef', domain: 'mg.acme.io', region: 'EU' } } },
  }),
  updateDeliveryServer: (i) => ({ id: i.ses, input: { pauseMs: 100, quota: { hourly: null } } }),
  activateDeliveryServer: (i) => ({ id: i.ses }),
  pauseDeliveryServer: (i) => ({ id: i.ses }),
  deleteDeliveryServer: (i) => ({ id: i.sendgrid }),
  testSmtpServer: (i) => ({ id: i.sendgrid, to: 'ops@acme.io' }),
  registerWebhooks: (i) => ({ id: i.sendgrid }),
  addCustomSmtp: (i) => ({ input: { accountId: i.lumen, provider: 'SENDGRID', email: 'care@lumen.dental', api: { apiKey: 'SG.abcdefghijklmnop', region: 'EU' } } }),
  setDefaultSmtp: (i) => ({ id: i.sendgrid, scope: 'SUB_ACCOUNTS' }),
  unsetDefaultSmtp: (i) => ({ id: i.ses, scope: 'ACCOUNT' }),
  assignSmtpAccounts: (i) => ({ id: i.ses, accountIds: [i.bluebird, i.lumen] }),
  sendEmail: (i) => ({ input: { accountId: i.acme, from: 'hello@acme.io', to: 'new.customer@example.com', subject: 'Hello', text: 'Hello there' } }),
  createCampaign: (i) => ({ input: { accountId: i.acme, name: 'Launch', from: 'news@acme.io', subject: 'We launched', html: '<p>Hi</p>', recipients: ['a@example.com', 'b@example.com'] } }),
  addCampaignRecipients: (i) => ({ id: i.draft, recipients: ['c@example.com'] }),
  startCampaign: (i) => ({ id: i.draft }),
  pauseCampaign: (i) => ({ id: i.sending }),
  resumeCampaign: (i) => ({ id: i.paused }),
  addSuppression: (i) => ({ accountId: i.acme, email: 'gone@example.com' }),
  removeSuppression: (i) => ({ accountId: i.acme, email: 'unsubscribed@example.com' }),
  createApiToken: (i) => ({ input: { name: 'CI', accountId: i.acme } }),
  revokeApiToken: (i) => ({ id: i.token }),
};

/** The operation for one root field, with its arguments as variables and a selection generated from schema.gql. */
function operationFor(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>, args: Data): string {
  const used = field.args.filter((a) => a.name in args);
  const vars = used.length ? `(${used.map((a) => `$${a.name}: ${String(a.type)}`).join(', ')})` : '';
  const call = used.length ? `(${used.map((a) => `${a.name}: $${a.name}`).join(', ')})` : '';
  const selection = selectionOf(getNamedType(field.type), 3);
  return `${kind}${vars} { ${field.name}${call}${selection ? ` { ${selection} }` : ''} }`;
}

describe('npm run mock: the schema in memory', () => {
  const schemaForFields = mockedSchema(SCHEMA_PATH, { now });
  const roots = [
    ['query', schemaForFields.getQueryType()],
    ['mutation', schemaForFields.getMutationType()],
  ] as const;
  const cases = roots.flatMap(([kind, type]) => Object.values(type?.getFields() ?? {}).map((field) => [`${kind} ${field.name}`, kind, field.name] as const));

  it.each(cases)('%s resolves from the data set, with UUID ids and ISO times', async (_label, kind, fieldName) => {
    // A fresh mock per field: a mutation's change must not decide whether the next one works.
    const fallbacks: string[] = [];
    const schema = mockedSchema(SCHEMA_PATH, { now, onFallback: (c) => fallbacks.push(c) });
    const field = (kind === 'query' ? schema.getQueryType() : schema.getMutationType())?.getFields()[fieldName];
    if (!field) throw new Error(`${fieldName} is not a root field`);
    const needsArgs = field.args.some((a) => isNonNullType(a.type));
    if (needsArgs && !ARGS[fieldName]) throw new Error(`${fieldName} takes required arguments: add sensible ones to ARGS in this test`);
    const args = ARGS[fieldName]?.(await seededIds(schema)) ?? {};
    const res = await run(schema, operationFor(kind, field, args), args);
    expect(res.errors).toBeUndefined();
    expect(res.data?.[fieldName]).toBeDefined();
    // Every field the selection reached came from the data set, not a generic placeholder.
    expect(fallbacks).toEqual([]);
    walk(res.data, (key, value) => {
      if (key === 'id') expect(value).toMatch(UUID);
      if (key.endsWith('At') && value !== null) expect(value).toMatch(ISO);
    });
  });

  it('reads the schema at run time: a field added to schema.gql answers a placeholder, and says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mock-schema-'));
    const path = join(dir, 'schema.gql');
    const grown = readFileSync(SCHEMA_PATH, 'utf8')
      .replace('type Account {', 'type Account {\n  billingEmail: String!\n  seats: Int!')
      .replace('type Query {', 'type Query {\n  featureFlags: [String!]!');
    writeFileSync(path, grown);
    try {
      const fallbacks: string[] = [];
      const schema = mockedSchema(path, { now, onFallback: (c) => fallbacks.push(c) });
      const res = await run(schema, '{ featureFlags viewer { account { name billingEmail seats } } }', undefined, MOCK_TOKENS.agency);
      expect(res.errors).toBeUndefined();
      expect(res.data).toEqual({ featureFlags: expect.any(Array), viewer: { account: { name: 'Acme Growth Agency', billingEmail: 'placeholder@example.com', seats: 0 } } });
      expect(new Set(fallbacks)).toEqual(new Set(['Query.featureFlags', 'Account.billingEmail', 'Account.seats']));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tells the viewer by the token prefix', async () => {
    const schema = mockedSchema(SCHEMA_PATH, { now });
    const viewer = async (token: string) => (await run(schema, '{ viewer { role account { name kind parent { name } } } }', undefined, token)).data?.viewer;
    expect(await viewer(MOCK_TOKENS.admin)).toEqual({ role: 'ADMIN', account: null });
    expect(await viewer('Admin-anything')).toEqual({ role: 'ADMIN', account: null });
    expect(await viewer(MOCK_TOKENS.agency)).toEqual({ role: 'ACCOUNT', account: { name: 'Acme Growth Agency', kind: 'AGENCY', parent: null } });
    // A sub-account's token does not reach its agency, so its parent reads null, as in the real API.
    expect(await viewer(MOCK_TOKENS.subAccount)).toEqual({ role: 'ACCOUNT', account: { name: 'Bluebird CRM', kind: 'SUB_ACCOUNT', parent: null } });
  });

  it('refuses every field without a token (UNAUTHENTICATED), as the real API does', async () => {
    const schema = mockedSchema(SCHEMA_PATH, { now });
    const res = await graphql({ schema, source: '{ viewer { role } }', contextValue: createMockContext(null) });
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(res.data).toBeNull();
  });

  it('gives the same ids on every build of the same seed, and others for another seed', async () => {
    const ids = async (seed?: string) => (await run(mockedSchema(SCHEMA_PATH, { now, seed }), '{ accounts { edges { node { id } } } }')).data;
    expect(await ids()).toEqual(await ids());
    expect(await ids('another')).not.toEqual(await ids());
  });
});
