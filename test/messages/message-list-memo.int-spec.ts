import { newAgency, newSubAccount, newToken } from '../factories/accounts';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { memoProbe } from '../utils/memo-probe';
import { rawRows } from '../utils/test-db';

type Page = { pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { cursor: string; node: { id: string; to: string; status: string } }[] };

const PAGE = `query($accountId: ID!, $first: Int, $after: String) { messages(accountId: $accountId, first: $first, after: $after) {
  pageInfo { hasNextPage endCursor } edges { cursor node { id to status } } } }`;

/**
 * A page of `messages` is kept (ResponseMemo) and served again only while the rows it shows
 * are the same row versions: a new message, a status change or a deletion on the page shows on
 * the very next request.
 */
describe('messages pages served again while unchanged', () => {
  let t: TestApp;
  let probe: ReturnType<typeof memoProbe>;
  beforeAll(async () => {
    t = await createTestApp({ ROLE: 'api' });
    probe = memoProbe(t);
  });
  afterAll(() => t.close());

  /** `n` SENT messages, one minute apart, the newest `offsetMinutes` ago. */
  async function seed(accountId: string, n: number, offsetMinutes = 0): Promise<void> {
    await rawRows(
      t.databaseUrl,
      `INSERT INTO messages (id, account_id, source, from_address, to_address, subject, text, status, transport, attempts, created_at, sent_at, updated_at)
       SELECT gen_random_uuid(), $1, 'ONE_OFF', 'news@example.com', 'reader' || (i + $3) || '@example.com', 'Hi', 'Hello', 'SENT', 'SMTP', 1,
              now() - (i + $3) * interval '1 minute', now() - (i + $3) * interval '1 minute', now()
       FROM generate_series(1, $2::int) AS i`,
      [accountId, n, offsetMinutes],
    );
  }

  async function page(accountId: string, token: string, variables: Record<string, unknown> = {}, memoized?: boolean, query = PAGE): Promise<Page> {
    return (await probe<{ messages: Page }>(memoized, query, { accountId, ...variables }, token)).messages;
  }

  it('serves a page again, and sees a new message, a status change and a deletion on it at once', async () => {
    const agency = await newAgency(t);
    const { token } = await newToken(t, agency.id);
    await seed(agency.id, 12, 10);
    const first = await page(agency.id, token, { first: 5 }, false);
    expect(first.edges.map((e) => e.node.to)).toEqual([11, 12, 13, 14, 15].map((i) => `reader${i}@example.com`));
    expect(await page(agency.id, token, { first: 5 }, true)).toEqual(first);

    // A change below the page leaves it as it is.
    await rawRows(t.databaseUrl, `UPDATE messages SET status = 'BOUNCED' WHERE account_id = $1 AND to_address = 'reader20@example.com'`, [agency.id]);
    await page(agency.id, token, { first: 5 }, true);

    await rawRows(t.databaseUrl, `UPDATE messages SET status = 'BOUNCED' WHERE account_id = $1 AND to_address = 'reader13@example.com'`, [agency.id]);
    expect((await page(agency.id, token, { first: 5 }, false)).edges.map((e) => e.node.status)).toEqual(['SENT', 'SENT', 'BOUNCED', 'SENT', 'SENT']);
    await page(agency.id, token, { first: 5 }, true);

    await seed(agency.id, 1, 0); // reader1, the newest
    expect((await page(agency.id, token, { first: 5 }, false)).edges[0].node.to).toBe('reader1@example.com');
    await rawRows(t.databaseUrl, `DELETE FROM messages WHERE account_id = $1 AND to_address = 'reader1@example.com'`, [agency.id]);
    expect(await page(agency.id, token, { first: 5 }, false)).toEqual(
      expect.objectContaining({ edges: first.edges.map((e, i) => (i === 2 ? { ...e, node: { ...e.node, status: 'BOUNCED' } } : e)) }),
    );
  });

  it('tells rows written by one statement apart, even after VACUUM FULL moves them (they share an xmin)', async () => {
    const agency = await newAgency(t);
    const { token } = await newToken(t, agency.id);
    await seed(agency.id, 10); // one INSERT: one xmin for all ten
    const before = await page(agency.id, token, { first: 3 }, false);
    await page(agency.id, token, { first: 3 }, true);
    await rawRows(t.databaseUrl, `DELETE FROM messages WHERE account_id = $1 AND to_address = 'reader1@example.com'`, [agency.id]);
    // Rewrites the table: the rows left move into the slots (ctid) the page's rows had.
    await rawRows(t.databaseUrl, 'VACUUM FULL messages');
    const after = await page(agency.id, token, { first: 3 }, false);
    expect(after.edges.map((e) => e.node.to)).toEqual(['reader2@example.com', 'reader3@example.com', 'reader4@example.com']);
    expect(after.edges[0]).toEqual(before.edges[1]);
  });

  it('keeps pages apart by cursor, and sees hasNextPage change when the row after the page goes', async () => {
    const agency = await newAgency(t);
    const { token } = await newToken(t, agency.id);
    await seed(agency.id, 6);
    const top = await page(agency.id, token, { first: 3 }, false);
    const next = await page(agency.id, token, { first: 3, after: top.pageInfo.endCursor }, false);
    expect(next.edges.map((e) => e.node.to)).toEqual(['reader4@example.com', 'reader5@example.com', 'reader6@example.com']);
    expect(next.pageInfo.hasNextPage).toBe(false);
    await page(agency.id, token, { first: 3, after: top.pageInfo.endCursor }, true);
    await page(agency.id, token, { first: 3 }, true);

    await rawRows(t.databaseUrl, `DELETE FROM messages WHERE account_id = $1 AND to_address = ANY($2)`, [agency.id, ['reader4@example.com', 'reader5@example.com', 'reader6@example.com']]);
    expect((await page(agency.id, token, { first: 3 }, false)).pageInfo.hasNextPage).toBe(false);
  });

  it('does not keep a page with totalCount or a field read from elsewhere', async () => {
    const agency = await newAgency(t);
    const { token } = await newToken(t, agency.id);
    await seed(agency.id, 2);
    const counted = `query($accountId: ID!) { messages(accountId: $accountId) { totalCount edges { node { id } } } }`;
    const withAccount = `query($accountId: ID!) { messages(accountId: $accountId) { edges { node { id account { name } } } } }`;
    for (const query of [counted, withAccount]) {
      await page(agency.id, token, {}, false, query);
      await page(agency.id, token, {}, false, query);
    }
    await page(agency.id, token, {}, false);
    await page(agency.id, token, {}, true);
  });

  it('checks reach before serving a kept page: a sub-account moved to another agency is refused to the old one', async () => {
    const agency = await newAgency(t);
    const { token } = await newToken(t, agency.id);
    const sub = await newSubAccount(t, agency.id);
    await seed(sub.id, 2);
    await page(sub.id, token, {}, false);
    await page(sub.id, token, {}, true);
    const outsider = await newAgency(t);
    await rawRows(t.databaseUrl, `UPDATE accounts SET parent_id = $2 WHERE id = $1`, [sub.id, outsider.id]);
    const refused = await t.gql(PAGE, { accountId: sub.id }, token);
    expect(refused.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });
});
