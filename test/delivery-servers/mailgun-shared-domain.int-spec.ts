import { MAILGUN_WEBHOOK_EVENTS } from '../../src/providers/mailgun/mailgun.adapter';
import { MailgunFake } from '../fakes/mailgun-fake';
import { WebhookHarness } from '../webhooks/webhook-harness';

const DOMAIN = 'shared.example.com';

/**
 * Mailgun keeps one list of URLs per domain and event, which registration and removal replace
 * whole: servers sharing a domain must not drop each other's URL when their calls overlap.
 */
describe('Mailgun webhooks of delivery servers sharing a domain', () => {
  const mailgun = new MailgunFake({ apiKeys: ['key-test'], domains: { [DOMAIN]: 'active' } });
  let h: WebhookHarness;
  beforeAll(async () => {
    await mailgun.start();
    h = await WebhookHarness.start({ MAILGUN_API_URL: mailgun.url });
  });
  afterAll(async () => {
    await h.close();
    await mailgun.stop();
  });

  const server = () => h.server({ provider: 'MAILGUN', credentials: { mailgun: { apiKey: 'key-test', domain: DOMAIN } } });
  const urlsOf = (event: string) => mailgun.hooksOf(DOMAIN).get(event) ?? [];

  it('keeps every URL when servers register at once, and only the deleted one goes when a removal overlaps a registration', async () => {
    const [a, b, c] = (await Promise.all([server(), server(), server()])).map((s) => s.server);
    for (const s of [a, b, c]) expect(s.webhook.status).toBe('REGISTERED');
    for (const event of MAILGUN_WEBHOOK_EVENTS) expect([...urlsOf(event)].sort()).toEqual([a, b, c].map((s) => s.webhook.url).sort());

    await Promise.all([
      h.t.gqlOk(`mutation($id: ID!) { deleteDeliveryServer(id: $id) }`, { id: a.id }),
      h.t.gqlOk(`mutation($id: ID!) { registerWebhooks(id: $id) { id } }`, { id: b.id }),
      h.t.gqlOk(`mutation($id: ID!) { registerWebhooks(id: $id) { id } }`, { id: c.id }),
    ]);
    for (const event of MAILGUN_WEBHOOK_EVENTS) expect([...urlsOf(event)].sort()).toEqual([b, c].map((s) => s.webhook.url).sort());
  });
});
