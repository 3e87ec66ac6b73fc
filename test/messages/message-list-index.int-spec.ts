import { DataSource } from 'typeorm';
import { newAgency } from '../factories/accounts';
import { createTestApp, type TestApp } from '../utils/create-test-app';

/**
 * `messages(status: FAILED)` on an account with a long history: its page comes from the partial
 * index of problem statuses, not from walking the account's messages newest first until fifty
 * failures turn up (a few failures among millions of sends read all of them).
 */
describe('messages filtered by a problem status', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let accountId: string;
  beforeAll(async () => {
    t = await createTestApp({ ROLE: 'api' });
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
  afterAll(async () => {
    await t.close();
  });

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
