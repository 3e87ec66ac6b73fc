import { SendGridFake } from '../fakes/sendgrid-fake';
import { sendGridEvent, sendGridHookId, sendGridServer, xMessageId } from './helpers';
import { WebhookHarness } from './webhook-harness';

interface UnmatchedRow {
  server_id: string;
  provider: string;
  kind: string;
  provider_message_id: string | null;
  recipient: string | null;
  external_id: string;
  detail: string | null;
}

describe('webhook events for unknown messages: kept for audit, counted, not errors', () => {
  const fake = new SendGridFake();
  let h: WebhookHarness;
  let accountId: string;
  let serverId: string;
  let webhookId: string;
  let path: string;

  beforeAll(async () => {
    await fake.start();
    h = await WebhookHarness.start({ SENDGRID_API_URL: fake.url });
    ({ accountId, serverId, webhookId, path } = await sendGridServer(h, fake));
  });
  afterAll(async () => {
    await h.close();
    await fake.stop();
  });

  const unmatchedRows = (externalIds: string[]) =>
    h.sql<UnmatchedRow>(
      `SELECT server_id, provider::text, kind::text, provider_message_id, recipient, external_id, detail FROM webhook_events_unmatched WHERE external_id = ANY($1) ORDER BY kind::text`,
      [externalIds],
    );

  it('stores an event for an unknown message once (posted twice → one row), counts it, and leaves known messages as before', async () => {
    const known = await h.sentMessage(accountId, serverId, xMessageId());
    const strangerId = xMessageId();
    const stranger = sendGridEvent('bounce', strangerId, 'Stranger@Example.org', { type: 'bounce', reason: '550 5.1.1 no such user' });
    const batch = [sendGridEvent('delivered', known.providerMessageId, known.to), stranger];
    const messageEvents = await h.countEvents();

    const first = await h.post(path, fake.signedPost(webhookId, batch));
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ received: 2, stored: 1, duplicates: 0, unknown: 1 });
    const again = await h.post(path, fake.signedPost(webhookId, batch));
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ received: 2, stored: 0, duplicates: 1, unknown: 1 });

    expect(await unmatchedRows([stranger.sg_event_id])).toEqual([
      {
        server_id: serverId,
        provider: 'SENDGRID',
        kind: 'HARD_BOUNCE',
        provider_message_id: expect.stringContaining(strangerId) as unknown,
        recipient: expect.stringMatching(/^stranger@example\.org$/i) as unknown,
        external_id: stranger.sg_event_id,
        detail: expect.stringContaining('550 5.1.1') as unknown,
      },
    ]);
    // Only the known message got an event; nobody was suppressed for the stranger's bounce.
    expect(await h.countEvents()).toBe(messageEvents + 1);
    expect((await h.message(known.id)).status).toBe('DELIVERED');
    expect((await h.suppressions(accountId)).map((s) => s.email)).not.toContain('stranger@example.org');
  });

  it('stores a batch made only of unknown events, each once, and the same event id repeated in one batch once', async () => {
    const a = sendGridEvent('spamreport', xMessageId(), 'a@example.org');
    const b = sendGridEvent('delivered', xMessageId(), 'b@example.org');
    const res = await h.post(path, fake.signedPost(webhookId, [a, b, a]));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: 3, stored: 0, duplicates: 0, unknown: 3 });
    expect((await unmatchedRows([a.sg_event_id, b.sg_event_id])).map((r) => r.kind)).toEqual(['COMPLAINT', 'DELIVERED']);
  });

  it('drops the audit rows with their server', async () => {
    const { server } = await h.server({ provider: 'SENDGRID', credentials: { sendgrid: { apiKey: 'SG.test-key' } } });
    const hookId = sendGridHookId(fake, server.webhook.url);
    const lone = sendGridEvent('bounce', xMessageId(), 'c@example.org', { type: 'bounce' });
    expect((await h.post(`/webhooks/sendgrid/${server.id}`, fake.signedPost(hookId, [lone]))).body).toMatchObject({ unknown: 1 });
    expect(await unmatchedRows([lone.sg_event_id])).toHaveLength(1);
    await h.t.gqlOk(`mutation($id: ID!) { deleteDeliveryServer(id: $id) }`, { id: server.id });
    expect(await unmatchedRows([lone.sg_event_id])).toHaveLength(0);
  });
});
