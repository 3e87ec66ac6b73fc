import { randomUUID } from 'node:crypto';
import { SesFake } from '../fakes/ses-fake';
import { WebhookHarness } from './webhook-harness';

const ACCESS_KEY = 'AKIATESTKEY00001';

describe('Amazon SES webhooks (SNS-signed, from our topic only)', () => {
  const fake = new SesFake({ accessKeyIds: [ACCESS_KEY], identities: { 'example.com': 'SUCCESS' } });
  let h: WebhookHarness;
  let accountId: string;
  let serverId: string;
  let endpoint: string;
  let topicArn: string;
  let path: string;

  beforeAll(async () => {
    const url = await fake.start();
    h = await WebhookHarness.start({ SES_ENDPOINT: url, SNS_ENDPOINT: url });
    const created = await h.server({
      provider: 'AMAZON_SES',
      senderAddress: 'news@example.com',
      credentials: { ses: { accessKeyId: ACCESS_KEY, secretAccessKey: 'x'.repeat(40), region: 'us-east-1' } },
    });
    expect(created.server.webhook.status).toBe('PENDING');
    accountId = created.accountId;
    serverId = created.server.id;
    endpoint = created.server.webhook.url ?? '';
    const topic = [...fake.topics.values()].find((t) => t.subscriptions.some((s) => s.endpoint === endpoint));
    if (!topic) throw new Error('no SNS subscription of our endpoint at the fake');
    topicArn = topic.arn;
    path = `/webhooks/ses/${serverId}`;
  });
  afterAll(async () => {
    await h.close();
    await fake.stop();
  });

  const webhookStatus = async () =>
    (await h.t.gqlOk<{ deliveryServer: { webhook: { status: string; registeredAt: string | null } } }>(`query($id: ID!) { deliveryServer(id: $id) { webhook { status registeredAt } } }`, { id: serverId }))
      .deliveryServer.webhook;
  const sesId = () => `0100018c${randomUUID().replace(/-/g, '')}-000000`;
  const mail = (messageId: string, to: string) => ({ timestamp: new Date().toISOString(), messageId, source: 'news@example.com', destination: [to] });

  it('confirms the SNS subscription (text/plain post) and records the registration as REGISTERED', async () => {
    const res = await h.post(path, fake.subscriptionConfirmation(topicArn, endpoint));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: 0, stored: 0, duplicates: 0, unknown: 0 });
    const sub = fake.topics.get(topicArn)?.subscriptions.find((s) => s.endpoint === endpoint);
    expect(sub?.confirmed).toBe(true);
    expect(await webhookStatus()).toMatchObject({ status: 'REGISTERED', registeredAt: expect.any(String) });
  });

  it('sends with the configuration set registration created, so SES publishes their events', async () => {
    const [setName] = [...fake.configurationSets.keys()];
    expect(setName).toBeDefined();
    const test = await h.t.gqlOk<{ testSmtpServer: { ok: boolean } }>(`mutation($id: ID!) { testSmtpServer(id: $id, to: "ops@example.com", transport: API) { ok } }`, { id: serverId });
    expect(test.testSmtpServer.ok).toBe(true);
    expect(fake.accepted.at(-1)).toMatchObject({ to: ['ops@example.com'], configurationSetName: setName });
  });

  it('a permanent bounce (signature v2) bounces and suppresses; a complaint and a delivery apply; a redelivered notification is stored once', async () => {
    const bounced = await h.sentMessage(accountId, serverId, sesId());
    const complained = await h.sentMessage(accountId, serverId, sesId());
    const delivered = await h.sentMessage(accountId, serverId, sesId());
    const bounce = fake.notification(
      topicArn,
      {
        eventType: 'Bounce',
        mail: mail(bounced.providerMessageId, bounced.to),
        bounce: { bounceType: 'Permanent', bounceSubType: 'General', timestamp: new Date().toISOString(), bouncedRecipients: [{ emailAddress: bounced.to, diagnosticCode: 'smtp; 550 5.1.1 user unknown' }] },
      },
      '2',
    );
    const first = await h.post(path, bounce);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ received: 1, stored: 1, duplicates: 0, unknown: 0 });
    const again = await h.post(path, bounce);
    expect(again.body).toEqual({ received: 1, stored: 0, duplicates: 1, unknown: 0 });
    expect(await h.message(bounced.id)).toMatchObject({ status: 'BOUNCED', events: [{ type: 'HARD_BOUNCE', detail: 'Permanent General smtp; 550 5.1.1 user unknown' }] });

    const complaint = fake.notification(topicArn, {
      eventType: 'Complaint',
      mail: mail(complained.providerMessageId, complained.to),
      complaint: { complainedRecipients: [{ emailAddress: complained.to }], timestamp: new Date().toISOString(), complaintFeedbackType: 'abuse' },
    });
    expect((await h.post(path, complaint)).status).toBe(200);
    const delivery = fake.notification(topicArn, {
      eventType: 'Delivery',
      mail: mail(delivered.providerMessageId, delivered.to),
      delivery: { timestamp: new Date().toISOString(), recipients: [delivered.to], smtpResponse: '250 2.0.0 OK' },
    });
    expect((await h.post(path, delivery)).status).toBe(200);
    expect((await h.message(complained.id)).status).toBe('COMPLAINED');
    expect((await h.message(delivered.id)).status).toBe('DELIVERED');
    expect(await h.suppressions(accountId)).toEqual(
      expect.arrayContaining([
        { email: bounced.to, reason: 'HARD_BOUNCE' },
        { email: complained.to, reason: 'COMPLAINT' },
      ]),
    );
  });

  it('refuses a tampered message, a missing signature and another topic with 401, changing nothing', async () => {
    const m = await h.sentMessage(accountId, serverId, sesId());
    const event = {
      eventType: 'Bounce',
      mail: mail(m.providerMessageId, m.to),
      bounce: { bounceType: 'Permanent', bouncedRecipients: [{ emailAddress: m.to }] },
    };
    const good = fake.notification(topicArn, event);
    const body = JSON.parse(good.rawBody.toString()) as Record<string, string>;
    const before = await h.countEvents();
    const posts = [
      { ...good, rawBody: Buffer.from(JSON.stringify({ ...body, Message: body.Message.replace('Permanent', 'Transient') })) },
      { ...good, rawBody: Buffer.from(JSON.stringify({ ...body, Signature: undefined })) },
      { ...good, rawBody: Buffer.from(JSON.stringify({ ...body, SigningCertURL: 'https://evil.example.com/cert.pem' })) },
      fake.notification(`${topicArn}-other`, event),
    ];
    for (const post of posts) expect((await h.post(path, post)).status).toBe(401);
    expect(await h.countEvents()).toBe(before);
    expect((await h.message(m.id)).status).toBe('SENT');
    expect((await h.suppressions(accountId)).map((s) => s.email)).not.toContain(m.to);
  });

  it('answers a masked 500 when SNS cannot be reached to confirm, so SNS retries; nothing is recorded', async () => {
    const confirmation = fake.subscriptionConfirmation(topicArn, endpoint);
    fake.fail(SesFake.serverError(503));
    try {
      const res = await h.post(path, confirmation);
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ statusCode: 500, message: expect.stringMatching(/^Internal error \(id [0-9a-f-]{36}\)$/) });
    } finally {
      fake.fail({ kind: 'none' });
    }
  });

  it('answers 400 to a body that is not an SNS message', async () => {
    const headers = { 'content-type': 'text/plain; charset=UTF-8' };
    expect((await h.post(path, { rawBody: Buffer.from('not json at all'), headers })).status).toBe(400);
    expect((await h.post(path, { rawBody: Buffer.from('{"hello":"world"}'), headers })).status).toBe(400);
  });
});
