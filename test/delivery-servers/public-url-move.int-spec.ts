import { MAILGUN_WEBHOOK_EVENTS } from '../../src/providers/mailgun/mailgun.adapter';
import { MailgunFake } from '../fakes/mailgun-fake';
import { SendGridFake } from '../fakes/sendgrid-fake';
import { WebhookHarness } from '../webhooks/webhook-harness';

/** registerWebhooks after PUBLIC_URL moved: the webhook moves with it, nothing is left at the old URL. */
describe('registering webhooks again after PUBLIC_URL moved', () => {
  const sendgrid = new SendGridFake();
  const mailgun = new MailgunFake({ apiKeys: ['key-test'], domains: { 'moving.example.com': 'active' } });
  let h: WebhookHarness;
  let publicUrl: string;
  beforeAll(async () => {
    await sendgrid.start();
    await mailgun.start();
    h = await WebhookHarness.start({ SENDGRID_API_URL: sendgrid.url, MAILGUN_API_URL: mailgun.url });
    publicUrl = h.t.config.publicUrl;
  });
  afterEach(() => {
    h.t.config.publicUrl = publicUrl;
  });
  afterAll(async () => {
    await h.close();
    await sendgrid.stop();
    await mailgun.stop();
  });

  const moveAndRegister = async (id: string): Promise<{ status: string; url: string }> => {
    h.t.config.publicUrl = 'https://mail.moved.example';
    return (await h.t.gqlOk<{ registerWebhooks: { webhook: { status: string; url: string } } }>(`mutation($id: ID!) { registerWebhooks(id: $id) { webhook { status url } } }`, { id })).registerWebhooks
      .webhook;
  };

  it('SendGrid: one event webhook, at the new URL', async () => {
    const { server } = await h.server({ provider: 'SENDGRID', credentials: { sendgrid: { apiKey: 'SG.test-key' } } });
    const ours = () => [...sendgrid.webhooks.values()].filter((w) => w.url.endsWith(`/webhooks/sendgrid/${server.id}`)).map((w) => w.url);
    expect(ours()).toEqual([server.webhook.url]);
    const moved = await moveAndRegister(server.id);
    expect(moved).toEqual({ status: 'REGISTERED', url: `https://mail.moved.example/webhooks/sendgrid/${server.id}` });
    expect(ours()).toEqual([moved.url]);
  });

  it('Mailgun: every event lists the new URL instead of the old one', async () => {
    const { server } = await h.server({ provider: 'MAILGUN', credentials: { mailgun: { apiKey: 'key-test', domain: 'moving.example.com' } } });
    const moved = await moveAndRegister(server.id);
    expect(moved.status).toBe('REGISTERED');
    for (const event of MAILGUN_WEBHOOK_EVENTS) expect(mailgun.hooksOf('moving.example.com').get(event)).toEqual([moved.url]);
  });
});
