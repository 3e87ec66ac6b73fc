import { DataSource } from 'typeorm';
import { MessageStore } from '../../src/modules/messages/message-store';
import { newAgency } from '../factories/accounts';
import { createServer, smtpServerInput } from '../factories/delivery-servers';
import { createTestApp, type TestApp } from '../utils/create-test-app';

/**
 * `messages(status: FAILED)` on an account with a long history: its page comes from the partial
 * index of problem statuses, not from walking the account's messages newest first until fifty
 * failures turn up (a few failures among millions of sends read all of them).
 */
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ ROLE: 'api' });
});
afterAll(async () => {
  await t.close();
});

describe('messages filtered by a problem status', () => {
  let dataSource: DataSource;
  let accountId: string;
  beforeAll(async () => {
    dataSource = t.app.get(DataSource);
    accountId = (await newAgency(t)).id;
    // 20,000 sent, and 3 failures older than all of them.
    await dataSource.query(
      `INSERT INTO messages (id, account_id, source, from_address, subject, to_address, status, attempts, dispatch_seq, created_at)
       SELECT gen_random_uuid(), $1, 'ONE_OFF', 'news@example.com', 'Hi', 'r' || n || '@example.org',
              CASE WHEN n <= 3 THEN 'FAILED' ELSE 'SENT' END::message_status, 1, 0, now() - interval '1 day' + n * interval '1 second'
         FROM generate_series(1, 20003) AS n`,
      [accountId],
    );
    await dataSource.query('ANALYZE messages');
  }, 60_000);

  it('answers the failures newest first', async () => {
    const res = await t.gqlOk<{ messages: { edges: { node: { to: string; status: string } }[] } }>(
      `query($a: ID!) { messages(accountId: $a, status: FAILED, first: 50) { edges { node { to status } } } }`,
      { a: accountId },
    );
    expect(res.messages.edges.map((e) => e.node)).toEqual([3, 2, 1].map((n) => ({ to: `r${n}@example.org`, status: 'FAILED' })));
  });

  it('reads them from the problem-status index', async () => {
    const plan = (await dataSource.query<{ 'QUERY PLAN': string }[]>(
      // The status as a parameter, as the list query passes it (planned with its value).
      `EXPLAIN SELECT * FROM messages m WHERE m.account_id = $1 AND m.status = $2 ORDER BY m.created_at DESC, m.id DESC LIMIT 51`,
      [accountId, 'FAILED'],
    ))
      .map((r) => r['QUERY PLAN'])
      .join('\n');
    expect(plan).toContain('IDX_messages_account_problems');
  });
});

/** MessageStore.waitingFor (a server paused or deleted) finds one server's waiting mail without reading every server's. */
describe('the mail waiting for one server', () => {
  let store: MessageStore;
  let busy: string;
  let quiet: string;
  beforeAll(async () => {
    store = t.app.get(MessageStore);
    const accountId = (await newAgency(t)).id;
    [busy, quiet] = [(await createServer(t, smtpServerInput(accountId, 2525))).id, (await createServer(t, smtpServerInput(accountId, 2526))).id];
    // 20,000 waiting for one server, 3 for the other, and 1,000 queued that have no server yet.
    await t.app.get(DataSource).query(
      `INSERT INTO messages (id, account_id, source, from_address, subject, to_address, status, server_id, next_attempt_at, attempts, dispatch_seq)
       SELECT gen_random_uuid(), $1, 'ONE_OFF', 'news@example.com', 'Hi', 'r' || n || '@example.org',
              CASE WHEN n <= 21003 THEN 'DEFERRED' ELSE 'QUEUED' END::message_status,
              CASE WHEN n <= 20000 THEN $2::uuid WHEN n <= 20003 THEN $3::uuid END, now() + interval '1 hour', 1, 0
         FROM generate_series(1, 22003) AS n`,
      [accountId, busy, quiet],
    );
    await t.app.get(DataSource).query('ANALYZE messages');
  }, 60_000);

  it('answers exactly that server\'s waiting mail', async () => {
    expect(await store.waitingFor(quiet)).toHaveLength(3);
    expect(await store.waitingFor(busy)).toHaveLength(20_000);
  });

  it('reads it from the server-waiting index', async () => {
    const plan = (await t.app.get(DataSource).query<{ 'QUERY PLAN': string }[]>(
      `EXPLAIN SELECT id FROM messages m WHERE m.server_id = $1 AND m.status IN ($2, $3)`,
      [quiet, 'QUEUED', 'DEFERRED'],
    ))
      .map((r) => r['QUERY PLAN'])
      .join('\n');
    expect(plan).toContain('IDX_messages_server_waiting');
  });
});
