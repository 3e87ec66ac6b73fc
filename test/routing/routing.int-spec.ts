import { QueryStats } from '../../src/infra/database/query-stats';
import { QuotaService } from '../../src/modules/quota/quota.service';
import { RoutingService } from '../../src/modules/routing/routing.service';
import { newAgency, newSubAccount, newToken } from '../factories/accounts';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../factories/delivery-servers';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { awayFromTurn, quietHour } from '../utils/quiet-clock';
import { SmtpSink } from '../utils/smtp-sink';

interface Decision {
  from: string;
  effectiveFrom: string | null;
  server: { id: string; name: string } | null;
  reason: string;
  code: string | null;
  waitUntil: string | null;
  onQuotaExhausted: string;
  candidates: { server: { id: string; name: string }; rank: number; via: string; eligible: boolean; reason: string | null }[];
}
const PREVIEW = `query($a: ID!, $f: String!) { routePreview(accountId: $a, from: $f) {
  from effectiveFrom server { id name } reason code waitUntil onQuotaExhausted
  candidates { server { id name } rank via eligible reason } } }`;

describe('routing', () => {
  let t: TestApp;
  let sink: SmtpSink;
  beforeAll(async () => {
    sink = new SmtpSink({ users: [SINK_USER] });
    await sink.start();
    // The query count below reads QueryStats, which counts every query of this process: no
    // background pass (sweeper, campaign completion, launch recovery, early webhook events, all
    // every SWEEP_INTERVAL_MS) runs within a test.
    t = await createTestApp({ SWEEP_INTERVAL_MS: '600000' });
  });
  afterAll(async () => {
    await t.close();
    await sink.stop();
  });

  const preview = async (accountId: string, from: string, token?: string): Promise<Decision> =>
    (await t.gqlOk<{ routePreview: Decision }>(PREVIEW, { a: accountId, f: from }, token)).routePreview;
  const activeServer = async (accountId: string | null, name: string, extra: Record<string, unknown> = {}): Promise<{ id: string }> => {
    const s = await createServer(t, smtpServerInput(accountId, sink.port, { name, ...extra }));
    await verifyAndActivate(t, s.id);
    return s;
  };

  it('ranks ASSIGNED > ACCOUNT_DEFAULT > AGENCY_DEFAULT > ACCOUNT_SERVER > PLATFORM and routes to the best', async () => {
    const agency = await newAgency(t, { name: 'Rank agency' });
    const sub = await newSubAccount(t, agency.id);
    const platform = await activeServer(null, 'Platform');
    const own = await activeServer(sub.id, 'Own');
    const ownDefault = await activeServer(sub.id, 'Own default');
    const agencyDefault = await activeServer(agency.id, 'Agency default');
    const assigned = await activeServer(agency.id, 'Assigned');
    const agencyOther = await activeServer(agency.id, 'Agency other (not a candidate)');
    await t.gqlOk(`mutation($id: ID!) { setDefaultSmtp(id: $id, scope: ACCOUNT) { id } }`, { id: ownDefault.id });
    await t.gqlOk(`mutation($id: ID!) { setDefaultSmtp(id: $id, scope: SUB_ACCOUNTS) { id } }`, { id: agencyDefault.id });
    await t.gqlOk(`mutation($id: ID!, $a: [ID!]!) { assignSmtpAccounts(id: $id, accountIds: $a) { id } }`, { id: assigned.id, a: [sub.id] });

    const d = await preview(sub.id, 'news@any.example');
    const byVia = (via: string) => d.candidates.filter((c) => c.via === via).map((c) => c.server.id);
    expect(d.candidates.map((c) => c.via)).toEqual(['ASSIGNED', 'ACCOUNT_DEFAULT', 'AGENCY_DEFAULT', 'ACCOUNT_SERVER', 'PLATFORM']);
    expect(byVia('ASSIGNED')).toEqual([assigned.id]);
    expect(byVia('ACCOUNT_DEFAULT')).toEqual([ownDefault.id]);
    expect(byVia('AGENCY_DEFAULT')).toEqual([agencyDefault.id]);
    expect(byVia('ACCOUNT_SERVER')).toEqual([own.id]);
    expect(byVia('PLATFORM')).toContain(platform.id);
    expect(d.candidates.map((c) => c.server.id)).not.toContain(agencyOther.id);
    expect(d.candidates.map((c) => c.rank)).toEqual(d.candidates.map((_c, i) => i + 1));
    expect(d).toMatchObject({ server: { id: assigned.id }, code: null, effectiveFrom: 'news@any.example', waitUntil: null, onQuotaExhausted: 'WAIT' });
    expect(d.reason).toMatch(/Assigned.*assigned to this account/);

    // Peel the ranks off one by one: pausing each top server hands the route to the next.
    for (const [paused, next] of [
      [assigned, ownDefault],
      [ownDefault, agencyDefault],
      [agencyDefault, own],
      [own, platform],
    ]) {
      await t.gqlOk(`mutation($id: ID!) { pauseDeliveryServer(id: $id) { id } }`, { id: paused.id });
      const after = await preview(sub.id, 'news@any.example');
      expect(after.server?.id).toBe(next.id);
      expect(after.candidates.find((c) => c.server.id === paused.id)).toMatchObject({ eligible: false, reason: 'paused' });
    }
  });

  it('filters by sending domain and prefers the domain-pinned server', async () => {
    const agency = await newAgency(t);
    const anyDomain = await activeServer(agency.id, 'Any');
    const pinned = await activeServer(agency.id, 'Pinned', { sendingDomain: 'brand.example' });
    const elsewhere = await activeServer(agency.id, 'Elsewhere', { sendingDomain: 'other.example' });
    const d = await preview(agency.id, 'Hello@Brand.Example');
    expect(d.server?.id).toBe(pinned.id);
    expect(d.candidates.find((c) => c.server.id === elsewhere.id)).toMatchObject({ eligible: false, reason: 'sends only for other.example' });
    const other = await preview(agency.id, 'hello@third.example');
    expect(other.server?.id).toBe(anyDomain.id);
  });

  it('forced senderAddress always passes and becomes effectiveFrom; an unverified From is SENDER_NOT_VERIFIED', async () => {
    const agency = await newAgency(t);
    const server = await activeServer(agency.id, 'Checked', { sendingDomain: 'checked.example' });
    sink.script({ step: 'MAIL_FROM', code: 550, message: '5.7.1 Sender address rejected: not owned by user', times: 1 });
    const refused = await preview(agency.id, 'stranger@checked.example');
    expect(refused).toMatchObject({ server: { id: server.id }, code: 'SENDER_NOT_VERIFIED', effectiveFrom: null });
    expect(refused.reason).toContain('stranger@checked.example');
    // The answer is cached: the sink is not asked again for the same From.
    const loginsBefore = sink.logins.length;
    expect((await preview(agency.id, 'stranger@checked.example')).code).toBe('SENDER_NOT_VERIFIED');
    expect(sink.logins.length).toBe(loginsBefore);
    // A change to the server (forcing a sender) clears what was cached.
    await t.gqlOk(`mutation($id: ID!) { updateDeliveryServer(id: $id, input: { senderAddress: "brand@checked.example" }) { id } }`, { id: server.id });
    const forced = await preview(agency.id, 'stranger@checked.example');
    expect(forced).toMatchObject({ code: null, effectiveFrom: 'brand@checked.example', server: { id: server.id } });
  });

  it('custom SMTPs route no mail while the add-on is off', async () => {
    const agency = await newAgency(t);
    await t.gqlOk(`mutation($id: ID!) { setAccountAddons(accountId: $id, addons: [CUSTOM_SMTP]) { id } }`, { id: agency.id });
    const custom = await t.gqlOk<{ addCustomSmtp: { id: string } }>(
      `mutation($input: AddCustomSmtpInput!) { addCustomSmtp(input: $input) { id } }`,
      { input: { accountId: agency.id, provider: 'SMTP', email: 'hello@addon.example', smtp: { host: '127.0.0.1', port: sink.port, security: 'NONE', username: SINK_USER.user, password: SINK_USER.pass } } },
    );
    expect((await preview(agency.id, 'hello@addon.example')).server?.id).toBe(custom.addCustomSmtp.id);
    await t.gqlOk(`mutation($id: ID!) { setAccountAddons(accountId: $id, addons: []) { id } }`, { id: agency.id });
    const off = await preview(agency.id, 'hello@addon.example');
    expect(off.server?.id).not.toBe(custom.addCustomSmtp.id);
    expect(off.candidates.find((c) => c.server.id === custom.addCustomSmtp.id)).toMatchObject({ eligible: false, reason: 'the Custom SMTP add-on is off for this account' });
  });

  it('is scoped to what the caller reaches and validates from', async () => {
    const agency = await newAgency(t);
    const stranger = await newAgency(t);
    const token = (await newToken(t, stranger.id)).token;
    expect((await t.gql(PREVIEW, { a: agency.id, f: 'a@b.example' }, token)).errors?.[0].extensions?.code).toBe('NOT_FOUND');
    expect((await t.gql(PREVIEW, { a: agency.id, f: 'not-an-address' })).errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['from'] });
    // The same rule as sendEmail's from: a one-letter top-level domain is refused by both.
    expect((await t.gql(PREVIEW, { a: agency.id, f: 'a@b.c' })).errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['from'] });
    const send = await t.gql(`mutation($i: SendEmailInput!) { sendEmail(input: $i) { id } }`, { i: { accountId: agency.id, from: 'a@b.c', to: 'x@y.example', subject: 's', text: 't' } });
    expect(send.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['from'] });
  });

  it('costs the same number of queries however many servers an account has', async () => {
    const stats = t.app.get(QueryStats);
    const measure = async (servers: number): Promise<number> => {
      const agency = await newAgency(t);
      for (let i = 0; i < servers; i++) await createServer(t, smtpServerInput(agency.id, sink.port, { name: `S${i}`, senderAddress: 'fixed@cost.example' }));
      const before = stats.count;
      await t.app.get(RoutingService).route(agency.id, 'x@cost.example');
      return stats.count - before;
    };
    const few = await measure(1);
    const many = await measure(12);
    expect(many).toBe(few);
    expect(many).toBeLessThanOrEqual(2);
  });
});

/** Platform servers are candidates for every account: these tests need an app without any. */
describe('routing with quota, and with no route at all', () => {
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
  const preview = async (accountId: string, from: string): Promise<Decision> => (await t.gqlOk<{ routePreview: Decision }>(PREVIEW, { a: accountId, f: from })).routePreview;
  const activeServer = async (accountId: string | null, name: string, extra: Record<string, unknown> = {}): Promise<{ id: string }> => {
    const s = await createServer(t, smtpServerInput(accountId, sink.port, { name, ...extra }));
    await verifyAndActivate(t, s.id);
    return s;
  };

  it('answers NO_ROUTE with the reasons when nothing is eligible, and after a server is deleted', async () => {
    const agency = await newAgency(t);
    const only = await activeServer(agency.id, 'Only', { sendingDomain: 'only.example' });
    expect((await preview(agency.id, 'x@only.example')).server?.id).toBe(only.id);
    const offDomain = await preview(agency.id, 'x@elsewhere.example');
    expect(offDomain).toMatchObject({ server: null, code: 'NO_ROUTE', effectiveFrom: null });
    expect(offDomain.reason).toContain('Only: sends only for only.example');
    await t.gqlOk(`mutation($id: ID!) { deleteDeliveryServer(id: $id) }`, { id: only.id });
    const after = await preview(agency.id, 'x@only.example');
    expect(after).toMatchObject({ server: null, code: 'NO_ROUTE', candidates: [] });
    const platform = await activeServer(null, 'Platform fallback');
    expect((await preview(agency.id, 'x@only.example')).candidates).toEqual([expect.objectContaining({ via: 'PLATFORM', server: expect.objectContaining({ id: platform.id }) })]);
    await t.gqlOk(`mutation($id: ID!) { deleteDeliveryServer(id: $id) }`, { id: platform.id });
  });

  it('WAIT waits for a full server; FAILOVER moves to the next and waits only when all are full', async () => {
    // Kolkata's half-hour offset is the point: the test waits out a turn of its hour (and so of its day) instead.
    await awayFromTurn(['Asia/Kolkata']);
    const agency = await newAgency(t, { timezone: 'Asia/Kolkata' });
    const first = await activeServer(agency.id, 'First', { sendingDomain: 'quota.example', quota: { hourly: 1 } });
    const second = await activeServer(agency.id, 'Second', { sendingDomain: 'quota.example', quota: { daily: 1 } });
    const quota = t.app.get(QuotaService);
    const fill = async (id: string, limits: { hourly: number | null; daily: number | null; monthly: number | null }) =>
      expect((await quota.reserve({ serverId: id, timezone: 'Asia/Kolkata', limits })).ok).toBe(true);
    await fill(first.id, { hourly: 1, daily: null, monthly: null });

    const wait = await preview(agency.id, 'a@quota.example');
    expect(wait).toMatchObject({ onQuotaExhausted: 'WAIT', server: { id: first.id }, code: null });
    expect(wait.waitUntil).toMatch(/:30:00\.000Z$/);
    expect(wait.candidates.find((c) => c.server.id === first.id)).toMatchObject({ eligible: false });
    expect(wait.candidates.find((c) => c.server.id === first.id)?.reason).toMatch(/^hourly quota full until (\d{1,2} [A-Z][a-z]{2} )?\d\d:\d\d Asia\/Kolkata$/); // with the date when the reset is tomorrow there

    await t.gqlOk(`mutation($id: ID!) { updateAccount(id: $id, input: { onQuotaExhausted: FAILOVER }) { id } }`, { id: agency.id });
    const failover = await preview(agency.id, 'a@quota.example');
    expect(failover).toMatchObject({ onQuotaExhausted: 'FAILOVER', server: { id: second.id }, waitUntil: null });

    await fill(second.id, { hourly: null, daily: 1, monthly: null });
    const allFull = await preview(agency.id, 'a@quota.example');
    // Every candidate is full: wait for the one that reopens first (the hourly one).
    expect(allFull.server?.id).toBe(first.id);
    expect(Date.parse(allFull.waitUntil ?? '')).toBe(Date.parse(wait.waitUntil ?? ''));
  }, 90_000); // a minute of it may go on waiting out a turn

  it("names the provider's refusal of a sender only to the server's owner", async () => {
    const agency = await newAgency(t);
    const sub = await newSubAccount(t, agency.id);
    const server = await activeServer(agency.id, 'Agency checked', { sendingDomain: 'owned.example' });
    await t.gqlOk(`mutation($id: ID!) { setDefaultSmtp(id: $id, scope: SUB_ACCOUNTS) { id } }`, { id: server.id });
    sink.script({ step: 'MAIL_FROM', code: 550, message: '5.7.1 Sender rejected by relay-7.internal.example', times: 2 });
    const forSub = await preview(sub.id, 'someone@owned.example');
    expect(forSub).toMatchObject({ code: 'SENDER_NOT_VERIFIED', reason: 'someone@owned.example cannot be sent through Agency checked: the sender is not verified with the provider' });
    const forAgency = await preview(agency.id, 'other@owned.example');
    expect(forAgency).toMatchObject({ code: 'SENDER_NOT_VERIFIED' });
    expect(forAgency.reason).toContain('relay-7.internal.example');
  });

  it('FAILOVER passes over a server with room that cannot send the From, and waits for a full one that can', async () => {
    // A clock whose hour does not turn while the test runs: the full server stays full.
    const { timezone } = quietHour();
    const agency = await newAgency(t, { onQuotaExhausted: 'FAILOVER', timezone });
    const full = await activeServer(agency.id, 'Full, sends it', { sendingDomain: 'sender.example', quota: { hourly: 1 } });
    const refusing = await activeServer(agency.id, 'Room, refuses it', { sendingDomain: 'sender.example' });
    expect((await t.app.get(QuotaService).reserve({ serverId: full.id, timezone, limits: { hourly: 1, daily: null, monthly: null } })).ok).toBe(true);
    // The one with room is asked first, and refuses the sender.
    sink.script({ step: 'MAIL_FROM', code: 550, message: '5.7.1 Sender address rejected: not owned by user', times: 1 });

    const d = await preview(agency.id, 'news@sender.example');
    expect(d).toMatchObject({ server: { id: full.id }, code: null, effectiveFrom: 'news@sender.example' });
    expect(d.waitUntil).not.toBeNull();
    expect(d.candidates.map((c) => [c.server.id, c.eligible])).toEqual([
      [full.id, false],
      [refusing.id, true],
    ]);
  });

});
