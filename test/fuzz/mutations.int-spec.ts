import { GraphQLSchemaHost } from '@nestjs/graphql';
import fc from 'fast-check';
import {
  buildSchema,
  getNamedType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLOutputType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
} from 'graphql';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { newAgency, newSubAccount, newToken } from '../factories/accounts';
import { newCampaign } from '../factories/campaigns';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../factories/delivery-servers';
import { createTestApp, type GqlResult, type TestApp } from '../utils/create-test-app';
import { SmtpSink } from '../utils/smtp-sink';

/**
 * Every mutation of the committed schema, fed random variables of the right and wrong types
 * through the real GraphQL stack (ADMIN and an agency's token). Whatever comes in, the answer
 * is never a 5xx or INTERNAL_SERVER_ERROR, errors carry a contract code and leak no SQL or
 * stack, and a mutation that answers with an error has stored nothing (every table's row count
 * is unchanged). Runs are reproducible: a failure prints its seed and the shrunk variables;
 * FUZZ_SEED and FUZZ_RUNS explore further.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const RUNS = Number(process.env.FUZZ_RUNS ?? 25);

const CONTRACT_CODES = new Set([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'CONFLICT',
  'SERVER_NOT_VERIFIED',
  'SENDER_NOT_VERIFIED',
  'PROVIDER_AUTH_FAILED',
  'PROVIDER_UNREACHABLE',
  'NO_ROUTE',
  'RATE_LIMITED',
  'GRAPHQL_VALIDATION_FAILED',
  'GRAPHQL_PARSE_FAILED',
]);
/** What must never reach a client: a stack frame, SQL, driver or ORM text. */
const LEAK = /\n\s+at |\bat .+\.[jt]s:\d+|QueryFailedError|TypeORM|\bSELECT\b|\bINSERT INTO\b|\bDELETE FROM\b|\bUPDATE\s+"?\w+"?\s+SET\b|violates .* constraint|syntax error at|invalid input syntax|relation "|column "/i;

const schema = buildSchema(readFileSync(join(__dirname, '../../schema.gql'), 'utf8'));
const mutationType = schema.getMutationType();
if (!mutationType) throw new Error('schema.gql has no Mutation type');
/** Those that remove rows other runs use go last, so the others still find them. */
const REMOVING = ['pauseDeliveryServer', 'deleteDeliveryServer', 'revokeApiToken'];
const MUTATIONS = Object.values(mutationType.getFields()).sort((a, b) => REMOVING.indexOf(a.name) - REMOVING.indexOf(b.name));
/** Queries too, with their filters, cursors and page sizes: they answer the same way and write nothing. */
const QUERIES = Object.values(schema.getQueryType()?.getFields() ?? {});

/** The ids a fuzzed variable may name: real rows of every kind, so runs reach the services. */
interface Pool {
  ids: string[];
  sinkPort: number;
  agencyId: string;
  subAccountId: string;
  activeServerId: string;
  pausedServerId: string;
  campaignId: string;
  /** A server and a token the destructive mutations may remove. */
  spareServerId: string;
  spareTokenId: string;
}

// ---- values ---------------------------------------------------------------------------

const sqlish = fc.constantFrom("' OR '1'='1", "'); DROP TABLE accounts; --", '%', '_%_', '\\', '$1', '"; SELECT pg_sleep(1); --', '\u0000', 'a\u0000b');
const awkward = fc.constantFrom('', ' ', '\t', '\r\n', '\u200b', '\ufeff', 'null', 'undefined', 'NaN', 'Infinity', '-0', '1e309', '0x10', '[]', '{}', '__proto__', 'constructor', '<script>alert(1)</script>', '../../etc/passwd', '\ud800', '𝕏🙂é\u0301');
const huge = fc.integer({ min: 256, max: 120_000 }).chain((n) => fc.constantFrom('x', 'é', '🙂', ' ', '@').map((c) => c.repeat(n)));
const emailish = fc.oneof(
  { weight: 6, arbitrary: fc.emailAddress() },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'a@b',
      '@example.com',
      'a@',
      'a@@b.com',
      'A.Person@EXAMPLE.COM',
      '"quoted local"@example.com',
      'x@[127.0.0.1]',
      'üñî@exämple.com',
      'a@b.com\r\nBcc: victim@example.org',
      'Name <a@b.com>',
      'a@b.com, c@d.com',
      `${'l'.repeat(64)}@${'d'.repeat(250)}.com`,
      'a\u0000@b.com',
    ),
  },
  { weight: 1, arbitrary: fc.string() },
);
const anyString = fc.oneof(
  { weight: 5, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: awkward },
  { weight: 2, arbitrary: sqlish },
  { weight: 2, arbitrary: emailish },
  { weight: 1, arbitrary: huge },
);
const anyInt = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: -5, max: 1_000 }) },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 2, arbitrary: fc.constantFrom(0, -1, 2_147_483_647, -2_147_483_648, 3_600_000, 3_600_001, 1_000_000_000) },
  { weight: 1, arbitrary: fc.oneof(fc.double({ noNaN: true }), fc.constantFrom(2 ** 31, 2 ** 53, 1.5, -0.5)) },
);
/** Anything JSON can carry, for a value of the wrong type. */
const wrongType = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom('NaN', 'Infinity', '-1', '1e309', 'true', '', '0x1F', 2 ** 53, -1e308, 1.5, true, false, [], {}, [null]),
);

function idArb(pool: Pool): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...pool.ids) },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.uuid().map((u) => u.toUpperCase()) },
    { weight: 2, arbitrary: fc.oneof(anyString, fc.constantFrom('00000000-0000-0000-0000-000000000000', 'not-a-uuid', '1', '-1', `${'f'.repeat(36)}`)) },
  );
}

/** Values chosen by the input field's name, where a random string would never get past validation. */
function byName(name: string, pool: Pool): fc.Arbitrary<unknown> | undefined {
  if (name === 'id' || /Ids?$/.test(name)) return idArb(pool);
  if (/^(email|to|from|replyTo|senderAddress|testEmail|recipients)$/.test(name)) return emailish;
  if (name === 'timezone') return fc.oneof(fc.constantFrom('UTC', 'Europe/Berlin', 'Asia/Kolkata', 'America/St_Johns', 'Mars/Olympus', 'utc', '+05:30', 'Etc/GMT+14'), anyString);
  if (name === 'sendingDomain') return fc.oneof(fc.domain(), fc.constantFrom('example.com', 'EXAMPLE.com', '-bad-.com', 'a..b', 'localhost'), anyString);
  if (name === 'region') return fc.oneof(fc.constantFrom('us-east-1', 'eu-west-1', 'GLOBAL', 'EU', 'US', 'mars-1'), anyString);
  // SMTP targets stay on this machine: the sink, closed ports, or values validation refuses.
  if (name === 'host') return fc.constantFrom('127.0.0.1', 'localhost', '::1', '', ' ', 'bad host', 'a'.repeat(300), 'x\u0000y', '127.0.0.1:25');
  if (name === 'port') return fc.constantFrom(pool.sinkPort, 1, 9, 0, -1, 65_536, 2_147_483_647);
  if (name === 'after') {
    const cursor = fc.record({ createdAt: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), anyString), key: fc.oneof(fc.uuid(), anyString) });
    return fc.oneof(cursor.map((c) => Buffer.from(JSON.stringify(c)).toString('base64url')), fc.base64String(), anyString);
  }
  return undefined;
}

function inputArb(type: GraphQLInputType, name: string, pool: Pool): fc.Arbitrary<unknown> {
  if (isNonNullType(type)) {
    return fc.oneof(
      { weight: 14, arbitrary: rightType(type.ofType, name, pool) },
      { weight: 1, arbitrary: wrongType },
      { weight: 1, arbitrary: fc.constantFrom(null, undefined) },
    );
  }
  return fc.oneof(
    { weight: 5, arbitrary: rightType(type, name, pool) },
    { weight: 5, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: wrongType },
  );
}

function rightType(type: GraphQLInputType, name: string, pool: Pool): fc.Arbitrary<unknown> {
  if (isNonNullType(type)) return rightType(type.ofType, name, pool);
  if (isListType(type)) return fc.oneof({ weight: 6, arbitrary: fc.array(inputArb(type.ofType, name, pool), { maxLength: 8 }) }, { weight: 1, arbitrary: inputArb(type.ofType, name, pool) });
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields());
    const shape = fc.record(Object.fromEntries(fields.map((f) => [f.name, inputArb(f.type, f.name, pool)])));
    // Now and then a field the type does not have.
    return fc.tuple(shape, fc.option(fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), wrongType, { maxKeys: 2 }), { freq: 6 })).map(([obj, extra]) => ({ ...(extra ?? {}), ...obj }));
  }
  if (isEnumType(type)) return fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...type.getValues().map((v) => v.name)) }, { weight: 1, arbitrary: anyString });
  const named = byName(name, pool);
  if (named) return named;
  switch (type.name) {
    case 'Int':
      return anyInt;
    case 'Float':
      return fc.oneof(anyInt, fc.double());
    case 'Boolean':
      return fc.boolean();
    case 'ID':
      return idArb(pool);
    case 'DateTime':
      return fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.constantFrom('2026-02-30T00:00:00Z', '0000-01-01T00:00:00Z', '+275760-09-13T00:00:00.000Z', '2026-01-01'), anyString);
    default:
      return anyString;
  }
}

// ---- valid inputs, then perturbed ----------------------------------------------------

/**
 * Inputs that pass validation, for mutations whose input a random generator almost never gets
 * right (a credentials block that matches the provider, a real From …). Any other mutation
 * starts from a plausible value built from its argument types.
 */
function knownGood(name: string, p: Pool): Record<string, unknown>[] | undefined {
  const smtp = { host: '127.0.0.1', port: p.sinkPort, security: 'NONE', username: SINK_USER.user, password: SINK_USER.pass };
  switch (name) {
    case 'createAccount':
      return [{ input: { name: 'Fuzz Co', timezone: 'Europe/Berlin' } }, { input: { name: 'Fuzz Sub', timezone: 'Asia/Kolkata', parentId: p.agencyId, onQuotaExhausted: 'FAILOVER' } }];
    case 'createDeliveryServer':
      return [
        { input: smtpServerInput(p.agencyId, p.sinkPort, { quota: { hourly: 10, daily: null }, pauseMs: 100, sendingDomain: 'brand.example' }) },
        { input: { accountId: p.subAccountId, name: 'SendGrid', provider: 'SENDGRID', credentials: { sendgrid: { apiKey: 'SG.fuzz-key', region: 'EU' } } } },
        { input: { name: 'Platform SES', provider: 'AMAZON_SES', credentials: { ses: { accessKeyId: 'AKIAFUZZ', secretAccessKey: 's'.repeat(40), region: 'eu-west-1' } } } },
        { input: { accountId: p.agencyId, name: 'Mailgun', provider: 'MAILGUN', credentials: { mailgun: { apiKey: 'key-fuzz', domain: 'mg.brand.example' } } } },
      ];
    case 'updateDeliveryServer':
      return [
        { id: p.pausedServerId, input: { name: 'Renamed', quota: { hourly: 5 }, pauseMs: 0, senderAddress: null } },
        { id: p.pausedServerId, input: { credentials: { smtp }, sendingDomain: 'brand.example', ipPool: null } },
      ];
    case 'addCustomSmtp':
      return [{ input: { accountId: p.agencyId, provider: 'SMTP', name: 'Custom', email: 'ops@custom.example', smtp } }];
    case 'createCampaign':
      return [{ input: { accountId: p.agencyId, name: 'Fuzz campaign', from: 'news@brand.example', subject: 'News', text: 'Hello', recipients: ['a@reader.example', 'b@reader.example'] } }];
    case 'sendEmail':
      return [{ input: { accountId: p.agencyId, from: 'news@brand.example', to: 'reader@example.org', subject: 'Hello', text: 'Hi', headers: [{ name: 'X-Fuzz', value: '1' }] } }];
    case 'updateAccount':
      return [{ id: p.subAccountId, input: { name: 'Renamed', timezone: 'UTC', onQuotaExhausted: 'WAIT' } }];
    case 'addCampaignRecipients':
      return [{ id: p.campaignId, recipients: ['c@reader.example'] }];
    case 'assignSmtpAccounts':
      return [{ id: p.activeServerId, accountIds: [p.subAccountId] }];
    case 'setDefaultSmtp':
    case 'unsetDefaultSmtp':
      return [{ id: p.activeServerId, scope: 'ACCOUNT' }, { id: p.activeServerId, scope: 'SUB_ACCOUNTS' }];
    case 'testSmtpServer':
      return [{ id: p.pausedServerId, to: 'ops@example.com' }];
    // What is removed or paused is a spare, so the mutations after these still find their rows.
    case 'deleteDeliveryServer':
      return [{ id: p.spareServerId }];
    case 'pauseDeliveryServer':
      return [{ id: p.pausedServerId }];
    case 'revokeApiToken':
      return [{ id: p.spareTokenId }];
    default:
      return undefined;
  }
}

/** A value of the type that validation would accept: required fields only, ids of real rows. */
function plausible(type: GraphQLInputType, name: string, p: Pool, mutation: string): unknown {
  if (isNonNullType(type)) return plausible(type.ofType, name, p, mutation);
  if (isListType(type)) return [plausible(type.ofType, name, p, mutation)];
  if (isInputObjectType(type)) {
    return Object.fromEntries(Object.values(type.getFields()).filter((f) => isNonNullType(f.type)).map((f) => [f.name, plausible(f.type, f.name, p, mutation)]));
  }
  if (isEnumType(type)) return type.getValues()[0].name;
  if (/^accountIds?$/.test(name)) return p.agencyId;
  if (name === 'id') return /Campaign$/.test(mutation) ? p.campaignId : /Account/.test(mutation) ? p.agencyId : p.activeServerId;
  if (/^(email|to|from|replyTo|senderAddress|testEmail|recipients)$/.test(name)) return 'fuzz@brand.example';
  if (type.name === 'Int' || type.name === 'Float') return 1;
  if (type.name === 'Boolean') return true;
  return name === 'timezone' ? 'UTC' : `Fuzz ${name}`;
}

/** A place in the variables that can be replaced or removed, with the type it holds. */
interface Slot {
  path: (string | number)[];
  type: GraphQLInputType;
  name: string;
}

function slotsOf(value: unknown, type: GraphQLInputType, name: string, path: (string | number)[], out: Slot[]): Slot[] {
  out.push({ path, type, name });
  const inner = isNonNullType(type) ? type.ofType : type;
  if (isListType(inner) && Array.isArray(value)) value.forEach((v, i) => slotsOf(v, inner.ofType, name, [...path, i], out));
  if (isInputObjectType(inner) && value && typeof value === 'object' && !Array.isArray(value)) {
    for (const f of Object.values(inner.getFields())) slotsOf((value as Record<string, unknown>)[f.name], f.type, f.name, [...path, f.name], out);
  }
  return out;
}

function withValueAt(root: Record<string, unknown>, path: (string | number)[], value: unknown): void {
  let node: unknown = root;
  for (const key of path.slice(0, -1)) {
    if (!node || typeof node !== 'object') return;
    node = (node as Record<string | number, unknown>)[key];
  }
  if (!node || typeof node !== 'object') return;
  const last = path[path.length - 1];
  if (value === undefined && !Array.isArray(node)) delete (node as Record<string | number, unknown>)[last];
  else (node as Record<string | number, unknown>)[last] = value;
}

/** Mostly a valid input with one to three of its places replaced by anything (or removed); sometimes all random. */
function variablesArb(mutation: GraphQLField<unknown, unknown>, p: Pool): fc.Arbitrary<Record<string, unknown>> {
  const random = fc.record(Object.fromEntries(mutation.args.map((a) => [a.name, inputArb(a.type, a.name, p)])));
  const bases = knownGood(mutation.name, p) ?? [Object.fromEntries(mutation.args.map((a) => [a.name, plausible(a.type, a.name, p, mutation.name)]))];
  const perturbed = fc.constantFrom(...bases).chain((base) => {
    const slots = mutation.args.flatMap((a) => slotsOf(base[a.name], a.type, a.name, [a.name], []));
    if (slots.length === 0) return fc.constant(base);
    const change = fc.constantFrom(...slots).chain((slot) => inputArb(slot.type, slot.name, p).map((value) => ({ slot, value })));
    return fc.array(change, { minLength: 0, maxLength: 3 }).map((changes) => {
      const variables = structuredClone(base);
      for (const { slot, value } of changes) withValueAt(variables, slot.path, value);
      return variables;
    });
  });
  return fc.oneof({ weight: 3, arbitrary: perturbed }, { weight: 1, arbitrary: random });
}

// ---- operations -----------------------------------------------------------------------

/** Leaf fields of the result, and the id of each object field that has one. */
function selection(type: GraphQLOutputType): string {
  const named = getNamedType(type);
  if (!isObjectType(named)) return '';
  const picks = ['__typename'];
  for (const f of Object.values(named.getFields())) {
    if (f.args.length) continue;
    const inner = getNamedType(f.type);
    if (isLeafType(inner)) picks.push(f.name);
    else if (isObjectType(inner) && inner.getFields().id) picks.push(`${f.name} { id }`);
  }
  return ` { ${picks.join(' ')} }`;
}

function operationFor(field: GraphQLField<unknown, unknown>, kind: 'query' | 'mutation'): string {
  const declared = field.args.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
  const passed = field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
  return `${kind}${declared ? `(${declared})` : ''} { ${field.name}${passed ? `(${passed})` : ''}${selection(field.type)} }`;
}

/** Every string inside a value, so an error may echo what was sent without that counting as a leak. */
function stringsIn(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => stringsIn(v, out));
  else if (value && typeof value === 'object') Object.entries(value).forEach(([k, v]) => stringsIn(v, stringsIn(k, out)));
  return out;
}

describe('fuzz: every mutation and query, random variables', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let db: Client;
  let pool: Pool;
  let accountToken: string;
  let countRows: () => Promise<Record<string, number>>;

  beforeAll(async () => {
    sink = new SmtpSink({ users: [SINK_USER] });
    const sinkPort = await sink.start();
    // API only: no worker changes rows behind a request's back.
    t = await createTestApp({ ROLE: 'api' });
    db = new Client({ connectionString: t.databaseUrl });
    await db.connect();

    const agency = await newAgency(t);
    const sub = await newSubAccount(t, agency.id);
    const stranger = await newAgency(t);
    await t.gqlOk(`mutation($a: ID!) { setAccountAddons(accountId: $a, addons: [CUSTOM_SMTP]) { id } }`, { a: agency.id });
    const active = await verifyAndActivate(t, (await createServer(t, smtpServerInput(agency.id, sinkPort))).id);
    const paused = await createServer(t, smtpServerInput(sub.id, sinkPort, { name: 'Paused relay' }));
    const platform = await createServer(t, smtpServerInput(null, sinkPort, { name: 'Platform relay' }));
    // Outside the pool, so no fuzzed mutation pauses it: sendEmail always has a route.
    await verifyAndActivate(t, (await createServer(t, smtpServerInput(null, sinkPort, { name: 'Platform route' }))).id);
    const campaign = await newCampaign(t, agency.id);
    const otherToken = await newToken(t, sub.id, 'fuzzed token');
    const spareToken = await newToken(t, sub.id, 'spare token');
    const spare = await createServer(t, smtpServerInput(sub.id, sinkPort, { name: 'Spare relay' }));
    accountToken = (await newToken(t, agency.id, 'fuzzing agency')).token;
    pool = {
      ids: [agency.id, sub.id, stranger.id, active.id, paused.id, platform.id, spare.id, campaign.id, otherToken.id, spareToken.id],
      sinkPort,
      agencyId: agency.id,
      subAccountId: sub.id,
      activeServerId: active.id,
      pausedServerId: paused.id,
      campaignId: campaign.id,
      spareServerId: spare.id,
      spareTokenId: spareToken.id,
    };

    const tables = (
      await db.query<{ name: string }>(
        `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'migrations' ORDER BY 1`,
      )
    ).rows.map((r) => r.name);
    const countSql = `SELECT ${tables.map((name, i) => `(SELECT count(*) FROM "${name}")::int AS c${i}`).join(', ')}`;
    countRows = async () => {
      const row = (await db.query<Record<string, number>>(countSql)).rows[0];
      return Object.fromEntries(tables.map((name, i) => [name, row[`c${i}`]]));
    };
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
    await sink?.stop();
  });

  it('covers exactly the mutations the running app serves', () => {
    const served = t.app.get(GraphQLSchemaHost).schema.getMutationType()?.getFields() ?? {};
    expect(MUTATIONS.map((m) => m.name).sort()).toEqual(Object.keys(served).sort());
  });

  const cases = [...MUTATIONS.map((m) => ['mutation', m.name, m] as const), ...QUERIES.map((q) => ['query', q.name, q] as const)];
  it.each(cases)('%s %s: no 5xx, only contract codes, no leak, nothing half-stored', async (kind, _name, field) => {
    const operation = operationFor(field, kind);
    const args = variablesArb(field, pool);
    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(args, fc.boolean(), async (variables, asAdmin) => {
        const before = await countRows();
        const res: GqlResult = await t.gql(operation, variables, asAdmin ? t.adminToken : accountToken);
        const codes = (res.errors ?? []).map((e) => e.extensions?.code ?? 'NO CODE');
        const outcome = codes.length ? codes.join(',') : 'ok';
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);

        try {
          expect(res.status).toBeLessThan(500);
          expect(codes.filter((c) => !CONTRACT_CODES.has(c))).toEqual([]);
          // Longest first, raw and as graphql-js prints it (escaped); too short to be SQL is left alone.
          const sent = stringsIn(variables)
            .flatMap((s) => [s, JSON.stringify(s).slice(1, -1)])
            .filter((s) => s.trim().length >= 3)
            .sort((a, b) => b.length - a.length);
          for (const error of res.errors ?? []) {
            const shown = sent.reduce((message, s) => message.split(s).join('<input>'), error.message);
            expect(shown).not.toMatch(LEAK);
          }
          // A refused mutation stored nothing; a query never writes.
          if (codes.length || kind === 'query') expect(await countRows()).toEqual(before);
        } catch (err) {
          const shown = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'string' && x.length > 200 ? `${x.slice(0, 200)}…(${x.length} chars)` : x));
          throw new Error(`${(err as Error).message}\nas ${asAdmin ? 'ADMIN' : 'the agency'}: ${shown(variables)}\nanswer: ${res.status} ${shown(res.errors ?? res.data)}`);
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // Not only refusals: the generators reach the services (a valid result or a domain error).
    if (process.env.FUZZ_REPORT) process.stdout.write(`${field.name}: ${JSON.stringify(Object.fromEntries(outcomes))}\n`);
    expect([...outcomes.keys()].some((o) => !/^(BAD_USER_INPUT|GRAPHQL_VALIDATION_FAILED)(,|$)/.test(o))).toBe(true);
  });
});
