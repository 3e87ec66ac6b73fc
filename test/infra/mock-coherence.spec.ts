import { type ExecutionResult, graphql, type GraphQLSchema } from 'graphql';
import { createMockContext, MOCK_TOKENS, mockedSchema } from '../../src/mock/mock-schema';

const now = (): Date => new Date('2026-12-07T12:00:00.000Z');

async function run<T>(schema: GraphQLSchema, source: string, token: string = MOCK_TOKENS.admin): Promise<T> {
  const res: ExecutionResult = await graphql({ schema, source, contextValue: createMockContext(token) });
  expect(res.errors).toBeUndefined();
  return res.data as T;
}

interface Server {
  provider: string;
  origin: string;
  status: string;
  verifiedAt: string | null;
  pausedReason: string | null;
  transports: string[];
  api: object | null;
  smtp: object | null;
  testEmail: string | null;
  sendingDomain: string | null;
  lastTest: { ok: boolean; error: object | null; transport: string | null } | null;
  account: { id: string } | null;
}

/** Nullable fields follow the record's state, as in the real API, instead of being filled at random. */
describe('npm run mock: a coherent data set', () => {
  const schema = mockedSchema(undefined, { now });

  it('accounts: an AGENCY has no parent, a SUB_ACCOUNT has one and no sub-accounts', async () => {
    const data = await run<{ accounts: { edges: { node: { kind: string; parent: { kind: string } | null; subAccounts: object[]; addons: string[]; effectiveAddons: string[] } }[] } }>(
      schema,
      '{ accounts { edges { node { kind parent { kind } subAccounts { id } addons effectiveAddons } } } }',
    );
    const accounts = data.accounts.edges.map((e) => e.node);
    expect(accounts.map((a) => a.kind).sort()).toEqual(['AGENCY', 'AGENCY', 'SUB_ACCOUNT', 'SUB_ACCOUNT']);
    for (const a of accounts) {
      if (a.kind === 'AGENCY') expect(a.parent).toBeNull();
      else {
        expect(a.parent).toEqual({ kind: 'AGENCY' });
        expect(a.subAccounts).toEqual([]);
      }
      expect(a.effectiveAddons).toEqual(expect.arrayContaining(a.addons));
    }
    // The agency's CUSTOM_SMTP add-on covers its sub-accounts.
    expect(accounts.filter((a) => a.effectiveAddons.includes('CUSTOM_SMTP'))).toHaveLength(3);
  });

  it('delivery servers: several providers; custom SMTPs use a custom SMTP provider; tests, verification and transports agree', async () => {
    const { deliveryServers } = await run<{ deliveryServers: Server[] }>(
      schema,
      '{ deliveryServers { provider origin status verifiedAt pausedReason transports api { keyHint } smtp { host } testEmail sendingDomain lastTest { ok error { code } transport } account { id } } }',
    );
    expect(new Set(deliveryServers.map((s) => s.provider)).size).toBeGreaterThanOrEqual(4);
    expect(deliveryServers.some((s) => s.origin === 'CUSTOM_SMTP')).toBe(true);
    expect(deliveryServers.some((s) => s.account === null)).toBe(true);
    for (const s of deliveryServers) {
      if (s.origin === 'CUSTOM_SMTP') {
        expect(['SPARKPOST', 'SENDGRID', 'SMTP']).toContain(s.provider);
        expect(s.testEmail?.endsWith(`@${s.sendingDomain}`)).toBe(true);
      }
      if (s.lastTest) expect(s.lastTest.error === null).toBe(s.lastTest.ok);
      if (s.lastTest?.ok === false) expect(s.lastTest.transport).toBeNull();
      if (s.status === 'ACTIVE') {
        expect(s.verifiedAt).not.toBeNull();
        expect(s.pausedReason).toBeNull();
      }
      expect(s.transports).toEqual([...(s.api ? ['API'] : []), ...(s.smtp ? ['SMTP'] : [])]);
      if (s.provider === 'SMTP') expect(s.api).toBeNull();
    }
  });

  it('campaigns: dates, pause reasons and stats follow the status', async () => {
    const { accounts } = await run<{ accounts: { edges: { node: { id: string } }[] } }>(schema, '{ accounts { edges { node { id } } } }');
    const campaigns = (
      await Promise.all(
        accounts.edges.map((e) =>
          run<{ campaigns: { edges: { node: Record<string, unknown> & { stats: Record<string, number> } }[] } }>(
            schema,
            `{ campaigns(accountId: "${e.node.id}") { edges { node { status startedAt completedAt pauseCode pauseReason stats { total queued deferred sent delivered failed bounced complained suppressed } } } } }`,
          ),
        ),
      )
    ).flatMap((d) => d.campaigns.edges.map((e) => e.node));
    expect(new Set(campaigns.map((c) => c.status))).toEqual(new Set(['DRAFT', 'SENDING', 'PAUSED', 'COMPLETED']));
    for (const c of campaigns) {
      const { total, ...counts } = c.stats;
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(c.status === 'DRAFT' ? 0 : total);
      expect(c.startedAt === null).toBe(c.status === 'DRAFT');
      expect(c.completedAt === null).toBe(c.status !== 'COMPLETED');
      if (c.status !== 'PAUSED') expect([c.pauseCode, c.pauseReason]).toEqual([null, null]);
      if (c.pauseCode) expect(c.pauseReason).toEqual(expect.any(String));
    }
  });

  it('messages: error, sentAt, nextAttemptAt and server follow the status; suppressions match the bounces and complaints', async () => {
    const { viewer } = await run<{ viewer: { account: { id: string } } }>(schema, '{ viewer { account { id } } }', MOCK_TOKENS.agency);
    const data = await run<{
      messages: {
        edges: { node: { status: string; error: { code: string } | null; sentAt: string | null; nextAttemptAt: string | null; server: object | null; to: string; events: { type: string }[] } }[];
      };
      suppressions: { edges: { node: { email: string; reason: string } }[] };
    }>(
      schema,
      `{ messages(accountId: "${viewer.account.id}", first: 500) { edges { node { status to error { code } sentAt nextAttemptAt server { id } events { type } } } }
         suppressions(accountId: "${viewer.account.id}") { edges { node { email reason } } } }`,
      MOCK_TOKENS.agency,
    );
    const messages = data.messages.edges.map((e) => e.node);
    expect(new Set(messages.map((m) => m.status)).size).toBeGreaterThanOrEqual(8);
    for (const m of messages) {
      expect(m.error !== null).toBe(['DEFERRED', 'FAILED', 'BOUNCED', 'SUPPRESSED', 'REJECTED'].includes(m.status));
      expect(m.sentAt !== null).toBe(['SENT', 'DELIVERED', 'BOUNCED', 'COMPLAINED'].includes(m.status));
      expect(m.nextAttemptAt !== null).toBe(m.status === 'DEFERRED');
      expect(m.server === null).toBe(['SUPPRESSED', 'REJECTED'].includes(m.status));
      expect(m.events[0].type).toBe('QUEUED');
    }
    const suppressed = new Map(data.suppressions.edges.map((e) => [e.node.email, e.node.reason]));
    for (const m of messages.filter((x) => x.status === 'BOUNCED')) expect(suppressed.get(m.to)).toBe('HARD_BOUNCE');
    for (const m of messages.filter((x) => x.status === 'COMPLAINED')) expect(suppressed.get(m.to)).toBe('COMPLAINT');
    for (const m of messages.filter((x) => x.status === 'SUPPRESSED')) expect(suppressed.has(m.to)).toBe(true);
  });

  it('routePreview agrees with the servers and the paused campaign: nothing sends from the sub-account domain', async () => {
    const { accounts } = await run<{ accounts: { edges: { node: { id: string; name: string } }[] } }>(schema, '{ accounts { edges { node { id name } } } }');
    const lumen = accounts.edges.find((e) => e.node.name === 'Lumen Dental')?.node.id ?? '';
    type Preview = {
      routePreview: { code: string | null; reason: string; server: object | null; candidates: { via: string; eligible: boolean; reason: string | null; server: { smtp: object | null } }[] };
    };
    const source = `{ routePreview(accountId: "${lumen}", from: "care@lumen.dental") { code reason server { name } candidates { via eligible reason server { smtp { host } } } } }`;
    const { routePreview } = await run<Preview>(schema, source, MOCK_TOKENS.agency);
    // Its assigned server is paused, the agency default sends only from acme.io, the platform server only from its own domain.
    expect(routePreview.candidates.map((c) => [c.via, c.eligible])).toEqual([
      ['ASSIGNED', false],
      ['AGENCY_DEFAULT', false],
      ['PLATFORM', false],
    ]);
    expect(routePreview.candidates.every((c) => c.reason !== null)).toBe(true);
    expect(routePreview).toMatchObject({ code: 'NO_ROUTE', server: null });
    const { campaigns } = await run<{ campaigns: { edges: { node: { status: string; pauseCode: string; pauseReason: string } }[] } }>(
      schema,
      `{ campaigns(accountId: "${lumen}") { edges { node { status pauseCode pauseReason } } } }`,
    );
    expect(campaigns.edges[0].node).toEqual({ status: 'PAUSED', pauseCode: 'NO_ROUTE', pauseReason: routePreview.reason });
    // The platform server is not the agency's to manage: its connection settings show to ADMIN only.
    expect(routePreview.candidates[2].server.smtp).toBeNull();
    expect((await run<Preview>(schema, source)).routePreview.candidates[2].server.smtp).not.toBeNull();
  });
});
