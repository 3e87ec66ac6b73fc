import { QueryStats } from '../../src/infra/database/query-stats';
import { SendGridFake } from '../fakes/sendgrid-fake';
import { sendGridEvent, sendGridHookId, sendGridServer, xMessageId } from './helpers';
import { WebhookHarness } from './webhook-harness';

interface ReputationView {
  sent: number;
  bounced: number;
  complained: number;
  bounceRate: number;
  complaintRate: number;
  since: string;
}
const REPUTATION = 'reputation { sent bounced complained bounceRate complaintRate since }';
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Sent messages are inserted as rows (WebhookHarness.sentMessage), as the dispatch worker leaves
 * them after a provider accepted them: sending ten messages through a provider fake would test
 * dispatch (covered by the messages tests), not the counts, and SQL lets a test place a message
 * outside the 24 h window. Bounces and complaints arrive as signed webhook posts.
 */
describe('DeliveryServer.reputation: bounce and complaint rates over the last 24 hours', () => {
  const fake = new SendGridFake();
  let h: WebhookHarness;
  let accountId: string;
  let serverId: string;
  let webhookId: string;

  beforeAll(async () => {
    await fake.start();
    // No sweeper pass in the middle of a query count.
    h = await WebhookHarness.start({ SENDGRID_API_URL: fake.url, SWEEP_INTERVAL_MS: '600000' });
    ({ accountId, serverId, webhookId } = await sendGridServer(h, fake));
  });
  afterAll(async () => {
    await h.close();
    await fake.stop();
  });

  const event = (type: string, m: { providerMessageId: string; to: string }, extra: Record<string, unknown> = {}) =>
    sendGridEvent(type, m.providerMessageId, m.to, extra);
  const reputationOf = async (id: string): Promise<ReputationView> =>
    (await h.t.gqlOk<{ deliveryServer: { reputation: ReputationView } }>(`query($id: ID!) { deliveryServer(id: $id) { ${REPUTATION} } }`, { id })).deliveryServer.reputation;

  it('is all zeros for a server that sent nothing', async () => {
    const { server } = await h.server({ provider: 'SENDGRID', credentials: { sendgrid: { apiKey: 'SG.test-key' } } });
    expect(await reputationOf(server.id)).toMatchObject({ sent: 0, bounced: 0, complained: 0, bounceRate: 0, complaintRate: 0 });
  });

  it('counts exactly: hard bounces (not soft ones, though they too end BOUNCED) and complaints over the messages sent in the window', async () => {
    const sent = [];
    for (let i = 0; i < 10; i++) sent.push(await h.sentMessage(accountId, serverId, xMessageId()));
    // Outside the window: sent 25 h ago, complained now — counted nowhere.
    const old = await h.sentMessage(accountId, serverId, xMessageId());
    await h.sql(`UPDATE messages SET sent_at = now() - interval '25 hours' WHERE id = $1`, [old.id]);
    // Never sent (still queued): not in the denominator.
    const queued = await h.sentMessage(accountId, serverId, xMessageId(), { status: 'QUEUED' });
    await h.sql(`UPDATE messages SET sent_at = NULL WHERE id = $1`, [queued.id]);

    const res = await h.post(
      `/webhooks/sendgrid/${serverId}`,
      fake.signedPost(webhookId, [
        event('bounce', sent[0], { type: 'bounce', reason: '550 5.1.1 no such user' }),
        event('bounce', sent[1], { type: 'bounce', reason: '550 5.1.1 no such user' }),
        event('bounce', sent[2], { type: 'blocked', reason: '421 try later' }),
        event('spamreport', sent[3]),
        event('delivered', sent[4]),
        event('spamreport', old),
      ]),
    );
    expect(res.body).toEqual({ received: 6, stored: 6, duplicates: 0, unknown: 0 });
    // The hard-bounced message also complains later: one bounce and one complaint, still one message each.
    expect((await h.post(`/webhooks/sendgrid/${serverId}`, fake.signedPost(webhookId, [event('spamreport', sent[0])]))).body).toMatchObject({ stored: 1 });

    const before = Date.now();
    const reputation = await reputationOf(serverId);
    const after = Date.now();
    expect(reputation).toMatchObject({ sent: 10, bounced: 2, complained: 2, bounceRate: 0.2, complaintRate: 0.2 });
    expect((await h.message(sent[2].id)).status).toBe('BOUNCED');
    const since = Date.parse(reputation.since);
    expect(since).toBeGreaterThanOrEqual(before - DAY_MS - 1000);
    expect(since).toBeLessThanOrEqual(after - DAY_MS + 1000);
    // Nowhere near the default minimum volume (100): the server is not paused by the complaints.
    expect((await h.t.gqlOk<{ deliveryServer: { pausedReason: string | null } }>(`query($id: ID!) { deliveryServer(id: $id) { pausedReason } }`, { id: serverId })).deliveryServer.pausedReason).toBeNull();
  });

  it('resolves for every server of a list in one request, each with its own numbers', async () => {
    const one = await h.server({ provider: 'SENDGRID', credentials: { sendgrid: { apiKey: 'SG.test-key' } } });
    const two = await h.server({ provider: 'SENDGRID', credentials: { sendgrid: { apiKey: 'SG.test-key' } } });
    const a = await h.sentMessage(one.accountId, one.server.id, xMessageId());
    await h.sentMessage(one.accountId, one.server.id, xMessageId());
    const b = await h.sentMessage(two.accountId, two.server.id, xMessageId());
    for (let i = 0; i < 3; i++) await h.sentMessage(two.accountId, two.server.id, xMessageId());
    expect((await h.post(`/webhooks/sendgrid/${one.server.id}`, fake.signedPost(sendGridHookId(fake, one.server.webhook.url), [event('bounce', a, { type: 'bounce' })]))).body).toMatchObject({ stored: 1 });
    expect((await h.post(`/webhooks/sendgrid/${two.server.id}`, fake.signedPost(sendGridHookId(fake, two.server.webhook.url), [event('spamreport', b)]))).body).toMatchObject({ stored: 1 });

    // One statement for the whole list: the same request without the field costs exactly one query less.
    const stats = h.t.app.get(QueryStats);
    const costOf = async (query: string): Promise<number> => {
      await h.t.gqlOk(query); // warm-up (token lookup caching)
      const before = stats.count;
      await h.t.gqlOk(query);
      return stats.count - before;
    };
    const plain = await costOf(`{ deliveryServers { id } }`);
    expect(await costOf(`{ deliveryServers { id ${REPUTATION} } }`)).toBe(plain + 1);

    const data = await h.t.gqlOk<{ deliveryServers: ({ id: string } & { reputation: ReputationView })[] }>(`{ deliveryServers { id ${REPUTATION} } }`);
    expect(data.deliveryServers.length).toBeGreaterThanOrEqual(2);
    const byId = new Map(data.deliveryServers.map((s) => [s.id, s.reputation]));
    expect(byId.get(one.server.id)).toMatchObject({ sent: 2, bounced: 1, complained: 0, bounceRate: 0.5, complaintRate: 0 });
    expect(byId.get(two.server.id)).toMatchObject({ sent: 4, bounced: 0, complained: 1, bounceRate: 0, complaintRate: 0.25 });
    expect(new Set(data.deliveryServers.map((s) => s.reputation.since)).size).toBe(1);
  });
});
