// GraphQL read latency under load: autocannon (a separate process) against the app's real HTTP
// server on loopback, six queries on one server: `deliveryServers` of an account owning 100
// servers with their quota `usage`, the first page of `messages` of an account holding 1,000,000
// messages (also with its exact totalCount, no target), and `viewer` as the baseline. The first
// two also run while a row they show changes every 5 ms (`…Changing`, no target), so that their
// kept answers (ResponseMemo) are seldom valid. Each runs
// with one client (the latency of a request) and then ten at once (the server saturated: latency
// is mostly queueing). BENCH_GRAPHQL_SECONDS (default 8) sets each run, BENCH_GRAPHQL_CONNECTIONS
// (default "1,10") the levels, BENCH_GRAPHQL_QUERIES (default all) which of the six run.
import type { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { newAgency, newToken } from '../test/factories/accounts';
import { createServer, smtpServerInput } from '../test/factories/delivery-servers';
import { createTestApp, type TestApp } from '../test/utils/create-test-app';
import globalSetup from '../test/utils/global-setup';
import globalTeardown from '../test/utils/global-teardown';
import { JitExecution } from '../src/infra/graphql/jit-execution';
import { postLoad } from './autocannon';
import { cpuMsPer, round, withDb } from './bench-utils';

const SECONDS = Number(process.env.BENCH_GRAPHQL_SECONDS ?? 8);
const CONNECTIONS = (process.env.BENCH_GRAPHQL_CONNECTIONS ?? '1,10').split(',').map(Number);
const SERVERS = 100;
const MESSAGES = 1_000_000;
const TARGET_P99_MS = 50;
const ONLY = process.env.BENCH_GRAPHQL_QUERIES?.split(',');
const selected = (query: string): boolean => !ONLY || ONLY.includes(query);

const SERVERS_QUERY = `query($accountId: ID) { deliveryServers(accountId: $accountId) {
  id name provider origin status sendingDomain senderAddress transports pauseMs isDefaultForAccount createdAt updatedAt
  smtp { host port security username } quota { hourly daily monthly }
  usage { timezone hourly { used limit remaining resetsAt } daily { used limit remaining resetsAt } monthly { used limit remaining resetsAt } } } }`;

const MESSAGES_PAGE = `pageInfo { hasNextPage endCursor }
  edges { cursor node { id source from to subject status transport providerMessageId attempts nextAttemptAt createdAt sentAt } }`;
const MESSAGES_QUERY = `query($accountId: ID!) { messages(accountId: $accountId, first: 50) { ${MESSAGES_PAGE} } }`;
/** The same page with the exact count of all 1,000,000: reported, no target (see docs/performance.md). */
const MESSAGES_COUNTED_QUERY = `query($accountId: ID!) { messages(accountId: $accountId, first: 50) { totalCount ${MESSAGES_PAGE} } }`;

const TRIVIAL_QUERY = `{ viewer { role } }`;

/** PostgreSQL's SQLSTATE for a statement cancelled on request: how churn ends. */
const QUERY_CANCELED = '57014';

/**
 * Runs `update` (one row, values as they were: a new row version) every 5 ms from a connection of
 * its own, as a worker or a second API process would, until `stop` (or `maxSeconds` at most): a
 * kept answer that shows the row is then seldom still valid. It runs inside PostgreSQL, so none
 * of its work is counted as the app's.
 */
async function churn(databaseUrl: string, update: string, maxSeconds: number): Promise<{ stop: () => Promise<void> }> {
  const db = new Client({ connectionString: databaseUrl });
  // The backend is cancelled to stop it; stop() tells that from a real failure.
  db.on('error', () => undefined);
  await db.connect();
  const [{ pid }] = (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
  const deadline = new Date(Date.now() + maxSeconds * 1000).toISOString();
  let failure: (Error & { code?: string }) | null = null;
  const done = db
    .query(`DO $$ BEGIN WHILE clock_timestamp() < '${deadline}'::timestamptz LOOP ${update}; COMMIT; PERFORM pg_sleep(0.005); END LOOP; END $$`)
    .then(
      () => undefined,
      (err: Error & { code?: string }) => {
        failure = err;
      },
    );
  return {
    stop: async () => {
      await withDb(databaseUrl, (admin) => admin.query('SELECT pg_cancel_backend($1)', [pid]));
      await done;
      await db.end().catch(() => undefined);
      if (failure && failure.code !== QUERY_CANCELED) throw new Error(`the churn failed: ${failure.message}`);
    },
  };
}

/** The UPDATE for churn of one row by id (a uuid this bench made, checked before it goes into SQL). */
function touchRow(table: 'delivery_servers' | 'messages', id: string, column: string): string {
  if (!/^[0-9a-f-]{36}$/.test(id)) throw new Error(`not a uuid: ${id}`);
  return `UPDATE ${table} SET ${column} = ${column} WHERE id = '${id}'`;
}

/** 1,000,000 SENT messages of one account, one second apart, in one statement. */
async function seedMessages(t: TestApp, accountId: string): Promise<void> {
  await withDb(t.databaseUrl, async (db) => {
    await db.query(
      `INSERT INTO messages (id, account_id, source, from_address, to_address, subject, text, status, transport, provider_message_id, attempts, created_at, sent_at, updated_at)
       SELECT gen_random_uuid(), $1, 'CAMPAIGN', 'news@bench.example.com', 'reader' || i || '@list' || (i % 97) || '.example.com', 'Bench news ' || (i % 1000), 'Hello',
              'SENT', 'SMTP', 'bench-' || i, 1, now() - i * interval '1 second', now() - i * interval '1 second', now() - i * interval '1 second'
       FROM generate_series(1, $2::int) AS i`,
      [accountId, MESSAGES],
    );
    // What autovacuum does to a table this size soon after a load: statistics and a visibility map.
    await db.query('VACUUM ANALYZE messages');
  });
}

export async function run(): Promise<Record<string, unknown>[]> {
  await globalSetup();
  const t = await createTestApp({ ROLE: 'api', GRAPHQL_RATE_LIMIT: '10000000', LOG_LEVEL: 'silent' });
  try {
    await t.app.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}/graphql`;

    const owner = await newAgency(t, { name: 'Hundred servers', timezone: 'Europe/Berlin' });
    let lastServer = '';
    for (let i = 0; i < SERVERS; i++) {
      // Nothing connects to these: creating an SMTP server stores it PAUSED and sends nothing.
      lastServer = (await createServer(t, smtpServerInput(owner.id, 2525, { name: `Relay ${i}`, quota: { hourly: 1000 + i, daily: 20_000, monthly: i % 2 ? null : 500_000 } }))).id;
    }
    const ownerToken = (await newToken(t, owner.id)).token;
    const big = await newAgency(t, { name: 'Million messages' });
    if (['messages1M', 'messages1MChanging', 'messages1MTotalCount'].some(selected)) await seedMessages(t, big.id);
    // The newest message: on the first page.
    const [newest] = await withDb(t.databaseUrl, async (db) => (await db.query<{ id: string }>('SELECT id FROM messages WHERE account_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1', [big.id])).rows);
    const bigToken = (await newToken(t, big.id)).token;

    const targets = [
      { query: 'deliveryServers100', token: ownerToken, body: { query: SERVERS_QUERY, variables: { accountId: owner.id } }, target: TARGET_P99_MS },
      { query: 'deliveryServers100Changing', token: ownerToken, body: { query: SERVERS_QUERY, variables: { accountId: owner.id } }, target: null, churn: touchRow('delivery_servers', lastServer, 'pause_ms') },
      { query: 'messages1M', token: bigToken, body: { query: MESSAGES_QUERY, variables: { accountId: big.id } }, target: TARGET_P99_MS },
      ...(newest ? [{ query: 'messages1MChanging', token: bigToken, body: { query: MESSAGES_QUERY, variables: { accountId: big.id } }, target: null, churn: touchRow('messages', newest.id, 'attempts') }] : []),
      { query: 'messages1MTotalCount', token: bigToken, body: { query: MESSAGES_COUNTED_QUERY, variables: { accountId: big.id } }, target: null },
      { query: 'trivial', token: ownerToken, body: { query: TRIVIAL_QUERY, variables: {} }, target: null },
    ] as { query: string; token: string; body: { query: string; variables: Record<string, unknown> }; target: number | null; churn?: string }[];
    const memo = t.app.get(JitExecution).memo;

    const results: Record<string, unknown>[] = [];
    for (const target of targets.filter((x) => selected(x.query))) {
      // Correct answers first (an error is a fast 200 too), then a few sequential requests to warm up.
      const check = await t.gql(target.body.query, target.body.variables, target.token);
      if (check.errors?.length || !check.data) throw new Error(`${target.query}: ${JSON.stringify(check.errors)}`);
      for (let i = 0; i < 20; i++) await t.gql(target.body.query, target.body.variables, target.token);
      for (const connections of CONNECTIONS) {
        const cpuBefore = process.cpuUsage();
        const servedBefore = memo.stats.served;
        const churning = target.churn ? await churn(t.databaseUrl, target.churn, SECONDS + 30) : null;
        let result: Awaited<ReturnType<typeof postLoad>>;
        try {
          result = await postLoad({
            url,
            body: JSON.stringify(target.body),
            headers: { 'content-type': 'application/json', authorization: `Bearer ${target.token}` },
            connections,
            seconds: SECONDS,
          });
        } finally {
          await churning?.stop();
        }
        results.push({
          bench: 'graphql',
          query: target.query,
          rps: round(result.requests.average, 1),
          p50: result.latency.p50,
          p99: result.latency.p99,
          connections,
          seconds: SECONDS,
          requests: result.requests.total,
          // The app's CPU per request (it runs in this process; autocannon and PostgreSQL do not): steadier than latency on a shared machine.
          appCpuMsPerRequest: cpuMsPer(process.cpuUsage(cpuBefore), result.requests.total),
          // Answers served again from the memo (ResponseMemo), of all answered.
          memoServedShare: round((memo.stats.served - servedBefore) / Math.max(result.requests.total, 1), 2),
          ...(target.target === null ? {} : { targetP99: target.target, pass: result.latency.p99 < target.target }),
        });
      }
    }
    return results;
  } finally {
    await t.close();
    await globalTeardown();
  }
}
