import { DataSource } from 'typeorm';
import { MessageSource } from '../../src/modules/messages/message.entity';
import { type MessageContent, MessageStore } from '../../src/modules/messages/message-store';
import { newAgency } from '../factories/accounts';
import { newCampaign } from '../factories/campaigns';
import { createTestApp, type TestApp } from '../utils/create-test-app';

/**
 * MessageStore.accept on a database of its own whose messages table is empty, as a new
 * deployment's is (no test of another file has written to it).
 */
describe('MessageStore.accept', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ ROLE: 'api' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('plans the foreign-key checks of each batch for the table as it is, so a launch after an ANALYZE of the empty table does not scan it per message', async () => {
    const agency = await newAgency(t);
    const campaign = await newCampaign(t, agency.id);
    const dataSource = t.app.get(DataSource);
    // What autovacuum (or an operator) does to a table that is empty, or nearly: from now on
    // PostgreSQL plans a lookup by id on it as a sequential scan.
    await dataSource.query('VACUUM ANALYZE messages');
    const content: MessageContent = { accountId: agency.id, campaignId: campaign.id, source: MessageSource.CAMPAIGN, from: 'news@example.com', replyTo: null, subject: 'Hi', html: '<p>Hi</p>', text: 'Hi', headers: null };
    const recipients = (from: number, n: number): { to: string }[] => Array.from({ length: n }, (_, i) => ({ to: `reader${from + i}@example.org` }));
    const store = t.app.get(MessageStore);

    // A launch on one connection: its first chunk of 100 while the table is still tiny, then
    // two batches of 1,000. Each message's QUEUED event has its message looked up by the
    // foreign-key check; the connection's counters say how many of those lookups scanned.
    const { firstChunk, rest, events } = await dataSource.transaction(async (tx) => {
      const seqScans = async (): Promise<number> => {
        const [stats] = await tx.query<{ seq_scan: string }[]>(`SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'messages'`);
        return Number(stats.seq_scan);
      };
      const before = await seqScans();
      await store.accept(content, recipients(0, 100), tx);
      const afterFirst = await seqScans();
      await store.accept(content, recipients(100, 2_000), tx);
      const afterRest = await seqScans();
      const [count] = await tx.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM message_events e JOIN messages m ON m.id = e.message_id WHERE m.campaign_id = $1`, [campaign.id]);
      return { firstChunk: afterFirst - before, rest: afterRest - afterFirst, events: count.n };
    });

    expect(events).toBe(2_100);
    // The table is a few pages during the first chunk: its checks scan (this is the plan that
    // would otherwise stick). The 2,000 after it must not: with that plan kept, each one did.
    expect(firstChunk).toBeGreaterThan(0);
    expect(rest).toBeLessThan(10);
  }, 30_000);
});
