import { JitExecution } from '../../src/infra/graphql/jit-execution';
import { QuotaService } from '../../src/modules/quota/quota.service';
import { newAgency, newSubAccount, newToken } from '../factories/accounts';
import { createServer, smtpServerInput } from '../factories/delivery-servers';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { countQueries } from '../utils/count-queries';
import { memoProbe } from '../utils/memo-probe';
import { rawRows } from '../utils/test-db';
import { waitFor } from '../utils/wait-for';

type Window = { used: number; limit: number | null; remaining: number | null; resetsAt: string };
type Listed = { id: string; name: string; status: string; quota: { hourly: number | null }; usage: { timezone: string; hourly: Window; daily: Window }; webhook: { status: string } };

// Without `usage` unless a test is about it: an hour ending between two requests would make the second a miss.
const LIST = `query($accountId: ID) { deliveryServers(accountId: $accountId) { id name status quota { hourly } webhook { status } } }`;
const LIST_WITH_USAGE = `query($accountId: ID) { deliveryServers(accountId: $accountId) {
  id name status quota { hourly } webhook { status }
  usage { timezone hourly { used limit remaining resetsAt } daily { used limit remaining resetsAt } } } }`;

/** Resolves once no hourly window of the zones these tests use (Berlin's at :00 UTC, Kathmandu's at :15) ends within 10 s. */
const awayFromHourEnds = (): Promise<boolean> =>
  waitFor('a moment at least 10 s before an hourly window ends', () => {
    const now = new Date();
    const secondsToEnd = Math.min(...[0, 15].map((minute) => (((minute - now.getUTCMinutes() + 60) % 60) * 60 - now.getUTCSeconds() + 3600) % 3600));
    return Promise.resolve(secondsToEnd > 10 && secondsToEnd < 3590);
  }, 30_000);

/**
 * `deliveryServers(accountId:)` answers are kept (ResponseMemo) and served again only while the
 * account's server rows and the counters they show are unchanged: whatever changes them, through
 * the API, another process or a send, shows on the very next request.
 */
describe('deliveryServers served again while unchanged', () => {
  let t: TestApp;
  let probe: ReturnType<typeof memoProbe>;
  let served: () => number;
  beforeAll(async () => {
    // countQueries counts every statement of this process: no background pass runs within a test.
    t = await createTestApp({ ROLE: 'api', SWEEP_INTERVAL_MS: '600000' });
    probe = memoProbe(t);
    served = () => t.app.get(JitExecution).memo.stats.served;
  });
  afterAll(() => t.close());

  /** The list, asserting whether it was served from the memo. */
  async function listExpecting(memoized: boolean, accountId: string, token?: string, query = LIST): Promise<Listed[]> {
    return (await probe<{ deliveryServers: Listed[] }>(memoized, query, { accountId }, token)).deliveryServers;
  }

  async function agencyWithServers(n: number): Promise<{ id: string; token: string; servers: string[] }> {
    const agency = await newAgency(t, { timezone: 'Europe/Berlin' });
    const servers: string[] = [];
    for (let i = 0; i < n; i++) servers.push((await createServer(t, smtpServerInput(agency.id, 2525, { name: `Relay ${i}`, quota: { hourly: 10 + i } }))).id);
    return { id: agency.id, token: (await newToken(t, agency.id)).token, servers };
  }

  it('serves the same answer again, and sees a change made through the API or straight in the database at once', async () => {
    const agency = await agencyWithServers(3);
    const first = await listExpecting(false, agency.id, agency.token);
    expect(first.map((s) => s.name)).toEqual(['Relay 2', 'Relay 1', 'Relay 0']);
    expect(await listExpecting(true, agency.id, agency.token)).toEqual(first);

    await t.gqlOk(`mutation($id: ID!) { updateDeliveryServer(id: $id, input: { name: "Renamed" }) { id } }`, { id: agency.servers[0] });
    expect((await listExpecting(false, agency.id, agency.token)).map((s) => s.name)).toEqual(['Relay 2', 'Relay 1', 'Renamed']);
    await listExpecting(true, agency.id, agency.token);

    // As another process would: a worker, a second API process, a migration.
    await rawRows(t.databaseUrl, `UPDATE delivery_servers SET status = 'PAUSED' WHERE id = $1`, [agency.servers[1]]);
    expect((await listExpecting(false, agency.id, agency.token)).map((s) => s.status)).toEqual(first.map((s, i) => (i === 1 ? 'PAUSED' : s.status)));
    // A write that leaves every value as it was still makes a new row version: a miss, never a stale hit.
    await rawRows(t.databaseUrl, `UPDATE delivery_servers SET name = name WHERE id = $1`, [agency.servers[2]]);
    await listExpecting(false, agency.id, agency.token);

    await rawRows(t.databaseUrl, `DELETE FROM delivery_servers WHERE id = $1`, [agency.servers[2]]);
    expect((await listExpecting(false, agency.id, agency.token)).map((s) => s.id)).toEqual([agency.servers[1], agency.servers[0]]);
    await createServer(t, smtpServerInput(agency.id, 2525, { name: 'Newest' }));
    expect((await listExpecting(false, agency.id, agency.token)).map((s) => s.name)).toEqual(['Newest', 'Relay 1', 'Renamed']);
    await listExpecting(true, agency.id, agency.token);
  });

  it('serves a list filtered by origin again, and sees a change to a server it shows', async () => {
    const agency = await agencyWithServers(2);
    const byOrigin = LIST.replace('query($accountId: ID)', 'query($accountId: ID, $origin: ServerOrigin)').replace('deliveryServers(accountId: $accountId)', 'deliveryServers(accountId: $accountId, origin: $origin)');
    const run = async (memoized: boolean, origin: string): Promise<Listed[]> => (await probe<{ deliveryServers: Listed[] }>(memoized, byOrigin, { accountId: agency.id, origin }, agency.token)).deliveryServers;
    expect(await run(false, 'CUSTOM_SMTP')).toEqual([]);
    expect(await run(false, 'DELIVERY_SERVER')).toHaveLength(2);
    await run(true, 'DELIVERY_SERVER');
    await run(true, 'CUSTOM_SMTP');
    await rawRows(t.databaseUrl, `UPDATE delivery_servers SET name = 'Changed' WHERE id = $1`, [agency.servers[0]]);
    expect((await run(false, 'DELIVERY_SERVER')).map((s) => s.name)).toEqual(['Relay 1', 'Changed']);
    // The other origin's list reads none of those rows: still valid.
    await run(true, 'CUSTOM_SMTP');
  });

  it('checks a kept answer with one statement instead of the list, and spends none on checking when nothing is kept', async () => {
    const agency = await agencyWithServers(2);
    await t.gqlOk('{ viewer { role } }', {}, agency.token); // a token's first use also stamps last_used_at
    const statements = async (memoized: boolean): Promise<string[]> => countQueries(() => listExpecting(memoized, agency.id, agency.token));
    const first = await statements(false);
    const again = await statements(true);
    await rawRows(t.databaseUrl, `UPDATE delivery_servers SET name = 'Changed' WHERE id = $1`, [agency.servers[0]]);
    const changed = await statements(false);
    const isCheck = (sql: string): boolean => sql.includes('COLLATE "C"');
    const isList = (sql: string): boolean => sql.includes('"server"."name"');
    // The token, the account, then the list; or the check instead of the list; or both.
    expect([first.length, first.filter(isCheck).length, first.filter(isList).length]).toEqual([3, 0, 1]);
    expect([again.length, again.filter(isCheck).length, again.filter(isList).length]).toEqual([3, 1, 0]);
    expect([changed.length, changed.filter(isCheck).length, changed.filter(isList).length]).toEqual([4, 1, 1]);
  });

  it('shows a send counted by a worker, and a change of the account clock, on the next request', async () => {
    const agency = await agencyWithServers(2);
    await awayFromHourEnds();
    const listWithUsage = async (memoized: boolean, accountId: string, token: string): Promise<Listed[]> =>
      (await probe<{ deliveryServers: Listed[] }>(memoized, LIST_WITH_USAGE, { accountId }, token)).deliveryServers;
    const [newest] = await listWithUsage(false, agency.id, agency.token);
    expect(newest.usage).toMatchObject({ timezone: 'Europe/Berlin', hourly: { used: 0, limit: 11, remaining: 11 } });
    await listWithUsage(true, agency.id, agency.token);

    const quota = t.app.get(QuotaService);
    const reserved = await quota.reserve({ serverId: agency.servers[1], timezone: 'Europe/Berlin', limits: { hourly: 11, daily: null, monthly: null } });
    expect(reserved.ok).toBe(true);
    const [counted] = await listWithUsage(false, agency.id, agency.token);
    expect(counted.usage.hourly).toMatchObject({ used: 1, remaining: 10 });
    expect(counted.usage.daily.used).toBe(1);
    await listWithUsage(true, agency.id, agency.token);

    await t.gqlOk(`mutation($id: ID!) { updateAccount(id: $id, input: { timezone: "Asia/Kathmandu" }) { id } }`, { id: agency.id });
    const [moved] = await listWithUsage(false, agency.id, agency.token);
    expect(moved.usage.timezone).toBe('Asia/Kathmandu');
    expect(moved.usage.daily.resetsAt).not.toBe(counted.usage.daily.resetsAt);
  }, 60_000);

  it("keeps each viewer's answer apart and checks reach on every request", async () => {
    const agency = await agencyWithServers(0);
    const sub = await newSubAccount(t, agency.id);
    const subToken = (await newToken(t, sub.id)).token;
    await createServer(t, smtpServerInput(sub.id, 2525, { name: 'Sub relay' }));
    const outsider = await agencyWithServers(0);

    const seenByAgency = await listExpecting(false, sub.id, agency.token);
    await listExpecting(true, sub.id, agency.token);
    // The sub-account's own token does not get the agency's kept answer, though it is the same list.
    expect(await listExpecting(false, sub.id, subToken)).toEqual(seenByAgency);
    await listExpecting(true, sub.id, subToken);

    const refused = await t.gql(LIST, { accountId: sub.id }, outsider.token);
    expect(refused.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    // A sub-account moved out of reach is refused though its answer is kept.
    await rawRows(t.databaseUrl, `UPDATE accounts SET parent_id = $2 WHERE id = $1`, [sub.id, outsider.id]);
    expect((await t.gql(LIST, { accountId: sub.id }, agency.token)).errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });

  it('does not keep a list that reads beyond the servers and their counters (owner, assignments, reputation)', async () => {
    const agency = await agencyWithServers(1);
    const withOwner = `query($accountId: ID) { deliveryServers(accountId: $accountId) { id account { name } assignedAccounts { id } } }`;
    await listExpecting(false, agency.id, agency.token, withOwner);
    await listExpecting(false, agency.id, agency.token, withOwner);
    await rawRows(t.databaseUrl, `UPDATE accounts SET name = 'Renamed agency' WHERE id = $1`, [agency.id]);
    const [server] = (await t.gqlOk<{ deliveryServers: { account: { name: string } }[] }>(withOwner, { accountId: agency.id }, agency.token)).deliveryServers;
    expect(server.account.name).toBe('Renamed agency');
    // Without accountId (every server the viewer reaches) nothing is kept either.
    const before = served();
    for (let i = 0; i < 2; i++) expect((await t.gqlOk<{ deliveryServers: unknown[] }>(`{ deliveryServers { id } }`, {}, agency.token)).deliveryServers).toHaveLength(1);
    expect(served()).toBe(before);
  });
});
