import { GraphQLSchemaHost } from '@nestjs/graphql';
import { getNamedType, type GraphQLObjectType, type GraphQLOutputType, isNonNullType, isObjectType } from 'graphql';
import { randomUUID } from 'node:crypto';
import { newAgency, newToken } from '../factories/accounts';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../factories/delivery-servers';
import { JitExecution } from '../../src/infra/graphql/jit-execution';
import { createTestApp, type GqlResult, type TestApp } from '../utils/create-test-app';
import { SmtpSink } from '../utils/smtp-sink';

declare global {
  var __jitProbe: number | undefined;
}

/**
 * Queries run compiled (graphql-jit), which reads a plain property inline but calls any resolver
 * a field has, with a fresh info object each time. These tests hold the schema to what keeps
 * that fast, and a query's answers and errors to what graphql-js gave.
 */
describe('compiled query execution', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Every field three levels down costs more than the default limit allows.
    t = await createTestApp({ ROLE: 'api', GRAPHQL_MAX_COST: '100000000' });
  });
  afterAll(() => t.close());

  it('compiles a query document the second time it comes, never a mutation or a document with a string literal', async () => {
    const jit = t.app.get(JitExecution);
    const agency = await newAgency(t);
    const before = jit.compiled;
    const byVariable = `query CompiledTwice($id: ID!) { account(id: $id) { id name } }`;
    expect(await t.gqlOk(byVariable, { id: agency.id })).toEqual({ account: { id: agency.id, name: agency.name } });
    expect(jit.compiled).toBe(before); // first time: graphql-js
    for (let i = 0; i < 3; i++) expect(await t.gqlOk(byVariable, { id: agency.id })).toEqual({ account: { id: agency.id, name: agency.name } });
    expect(jit.compiled).toBe(before + 1); // then compiled once, and reused
    const byLiteral = `query { account(id: "${agency.id}") { id } }`;
    for (let i = 0; i < 3; i++) await t.gqlOk(byLiteral);
    const mutation = `mutation($input: CreateAccountInput!) { createAccount(input: $input) { id } }`;
    for (let i = 0; i < 3; i++) await t.gqlOk(mutation, { input: { name: `Not compiled ${i}`, timezone: 'UTC' } });
    expect(jit.compiled).toBe(before + 1);
  });

  it('runs no code smuggled in a string literal (graphql-jit turns "__MAGIC_DATE__…" literals into code)', async () => {
    const payload = '__MAGIC_DATE__33a9e76d_02e0_4128_8e92_3530ad3da74d(globalThis.__jitProbe=1,0)';
    globalThis.__jitProbe = undefined;
    const queries = [
      `{ accounts(search: ${JSON.stringify(payload)}) { totalCount } }`,
      `query($s: String = ${JSON.stringify(payload)}) { accounts(search: $s) { totalCount } }`,
      // The same text with escapes: the parsed value is what matters, not the source.
      `{ accounts(search: "\\u005f\\u005fMAGIC_DATE__33a9e76d_02e0_4128_8e92_3530ad3da74d(globalThis.__jitProbe=1,0)") { totalCount } }`,
    ];
    for (const query of queries) {
      for (let i = 0; i < 3; i++) {
        const anonymous = await t.gql(query, {}, null);
        expect(anonymous.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
        expect(await t.gqlOk(query)).toEqual({ accounts: { totalCount: 0 } });
      }
    }
    expect(globalThis.__jitProbe).toBeUndefined();
  });

  it('keeps compiled documents when a flood of one-off documents comes', async () => {
    const jit = t.app.get(JitExecution);
    const hot = `query Hot { viewer { role } }`;
    await t.gqlOk(hot);
    await t.gqlOk(hot);
    const compiled = jit.compiled;
    // More one-off documents than compiled ones are kept (200), each seen once.
    for (let i = 0; i < 250; i++) await t.gqlOk(`query OneOff${i} { viewer { role } }`);
    await t.gqlOk(hot);
    await t.gqlOk(hot);
    expect(jit.compiled).toBe(compiled); // still compiled: not pushed out and compiled again
  });

  it('answers the same on every request with the name __proto__ as an alias or a variable (such documents are not compiled)', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await t.gqlOk<Record<string, unknown>>(`query ProtoAlias { viewer { __proto__: role } }`);
      expect(JSON.stringify(res)).toBe('{"viewer":{"__proto__":"ADMIN"}}');
    }
    const agency = await newAgency(t);
    for (let i = 0; i < 3; i++) {
      const res = await t.gqlOk<{ account: { id: string } | null }>(`query ProtoVariable($__proto__: ID!) { account(id: $__proto__) { id } }`, { ['__proto__']: agency.id } /* an own property, not the prototype */);
      expect(res.account).toEqual({ id: agency.id });
    }
  });

  it('keeps resolvers only where a field computes something', () => {
    const schema = t.app.get(GraphQLSchemaHost).schema;
    const server = (schema.getType('DeliveryServer') as GraphQLObjectType).getFields();
    // Plain reads of the model: no resolver (Nest gives each one that graphql-jit would call).
    for (const name of ['id', 'name', 'status', 'createdAt', 'smtp', 'quota', 'transports']) expect(server[name].resolve).toBeUndefined();
    // Fields with their own resolvers keep them.
    expect(server.usage.resolve).toBeInstanceOf(Function);
    expect(server.account.resolve).toBeInstanceOf(Function);
    expect((schema.getQueryType() as GraphQLObjectType).getFields().deliveryServers.resolve).toBeInstanceOf(Function);
  });

  it('answers a list with nested objects and computed fields, and reports errors with their path', async () => {
    const agency = await newAgency(t, { timezone: 'Asia/Kolkata' });
    const created = await createServer(t, smtpServerInput(agency.id, 2525, { name: 'Compiled', quota: { hourly: 7, daily: null, monthly: null } }));
    const missing = randomUUID();
    // The first request of each document runs on graphql-js, the second compiled: both answer alike.
    for (let round = 0; round < 2; round++) {
      const data = await t.gqlOk<{ deliveryServers: Record<string, unknown>[] }>(
        `query($a: ID) { deliveryServers(accountId: $a) { id name status smtp { host port } quota { hourly daily } account { id timezone } usage { timezone hourly { used limit remaining } } } }`,
        { a: agency.id },
      );
      expect(data.deliveryServers).toEqual([
        {
          id: created.id,
          name: 'Compiled',
          status: 'PAUSED',
          smtp: { host: '127.0.0.1', port: 2525 },
          quota: { hourly: 7, daily: null },
          account: { id: agency.id, timezone: 'Asia/Kolkata' },
          usage: { timezone: 'Asia/Kolkata', hourly: { used: 0, limit: 7, remaining: 7 } },
        },
      ]);
      const res = await t.gql(`query($id: ID!) { deliveryServer(id: $id) { id } viewer { role } }`, { id: missing });
      expect(res.data).toEqual({ deliveryServer: null, viewer: { role: 'ADMIN' } });
      expect(res.errors).toHaveLength(1);
      expect(res.errors?.[0]).toMatchObject({ path: ['deliveryServer'], extensions: { code: 'NOT_FOUND' } });
      expect(res.errors?.[0].message).toContain(missing);
    }
  });

  it('answers every root query the same compiled as interpreted, every field selected', async () => {
    const schema = t.app.get(GraphQLSchemaHost).schema;
    const agency = await newAgency(t, { timezone: 'Asia/Kolkata' });
    const sub = (await t.gqlOk<{ createAccount: { id: string } }>(`mutation($input: CreateAccountInput!) { createAccount(input: $input) { id } }`, { input: { name: 'Sub', timezone: 'UTC', parentId: agency.id } })).createAccount;
    const sink = new SmtpSink({ users: [SINK_USER] });
    await sink.start();
    const server = await createServer(t, smtpServerInput(agency.id, sink.port, { name: 'Every field', quota: { hourly: 3, daily: null, monthly: 90 } }));
    await verifyAndActivate(t, server.id);
    await sink.stop();
    const message = (
      await t.gqlOk<{ sendEmail: { id: string } }>(`mutation($input: SendEmailInput!) { sendEmail(input: $input) { id } }`, {
        input: { accountId: agency.id, from: 'news@brand.example', to: 'reader@example.com', subject: 'Every field', text: 'Hi' },
      })
    ).sendEmail;
    await t.gqlOk(`mutation($id: ID!, $a: [ID!]!) { assignSmtpAccounts(id: $id, accountIds: $a) { id } }`, { id: server.id, a: [sub.id] });
    const campaign = (
      await t.gqlOk<{ createCampaign: { id: string } }>(`mutation($input: CreateCampaignInput!) { createCampaign(input: $input) { id } }`, {
        input: { accountId: agency.id, name: 'Every field', from: 'news@brand.example', subject: 'Hi', text: 'Hello', recipients: ['one@example.com', 'two@example.com'] },
      })
    ).createCampaign;
    await t.gqlOk(`mutation($a: ID!, $e: String!) { addSuppression(accountId: $a, email: $e) { email } }`, { a: agency.id, e: 'gone@example.com' });
    const variables: Record<string, unknown> = { id: agency.id, accountId: agency.id, from: 'news@brand.example' };
    const idFor: Record<string, string> = { campaign: campaign.id, deliveryServer: server.id, account: agency.id, message: message.id };

    /** Every field without required arguments, three levels down (introspection left out). */
    const selectAll = (type: GraphQLOutputType, depth: number): string => {
      const named = getNamedType(type);
      if (!isObjectType(named)) return '';
      if (depth === 0) return '{ __typename }';
      const fields = Object.values(named.getFields())
        .filter((f) => f.args.every((a) => !isNonNullType(a.type)))
        .map((f) => `${f.name} ${selectAll(f.type, depth - 1)}`);
      return `{ ${fields.join(' ')} }`;
    };
    const queryType = schema.getQueryType() as GraphQLObjectType;
    const jit = t.app.get(JitExecution);
    const compiledBefore = jit.compiled;
    const tenant = (await newToken(t, agency.id)).token;
    await t.gqlOk('{ viewer { role } }', {}, tenant); // a token's first use stamps lastUsedAt
    /** The same request three times; `since` of a 24-hour window moves with the clock, so it is left out. */
    const thrice = async (document: string, vars: Record<string, unknown>, token?: string): Promise<GqlResult[]> => {
      const answers: GqlResult[] = [];
      for (let i = 0; i < 3; i++) answers.push(JSON.parse(JSON.stringify(await t.gql(document, vars, token), (k, v: unknown) => (k === 'since' ? 'a day ago' : v))) as GqlResult);
      return answers;
    };
    for (const field of Object.values(queryType.getFields())) {
      const required = field.args.filter((a) => isNonNullType(a.type));
      const defs = required.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
      const args = required.map((a) => `${a.name}: $${a.name}`).join(', ');
      const document = `query Every_${field.name}${defs ? `(${defs})` : ''} { ${field.name}${args ? `(${args})` : ''} ${selectAll(field.type, 3)} }`;
      const vars = Object.fromEntries(required.map((a) => [a.name, a.name === 'id' ? (idFor[field.name] ?? agency.id) : variables[a.name]]));
      // The first answer of a document comes from graphql-js, every later one from the compiled query:
      // as ADMIN, as the agency's own token, and (by id) for a record that does not exist.
      const runs = [{ vars, token: undefined }, { vars, token: tenant }, ...(required.some((a) => a.name === 'id') ? [{ vars: { ...vars, id: randomUUID() }, token: undefined }] : [])];
      for (const [n, run] of runs.entries()) {
        const answers = await thrice(document, run.vars, run.token);
        if (n < 2) expect({ field: field.name, errors: answers[0].errors }).toEqual({ field: field.name, errors: undefined });
        else expect(answers[0].errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
        expect(answers[1]).toEqual(answers[0]);
        expect(answers[2]).toEqual(answers[0]);
      }
    }
    expect(jit.compiled - compiledBefore).toBe(Object.keys(queryType.getFields()).length);
  });
});
