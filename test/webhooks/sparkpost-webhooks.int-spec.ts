import { randomUUID } from 'node:crypto';
import { SPARKPOST_BODIES, SparkPostFake } from '../fakes/sparkpost-fake';
import { WebhookHarness, type WebhookPost } from './webhook-harness';

describe('SparkPost webhooks (basic auth we generated)', () => {
  const fake = new SparkPostFake();
  let h: WebhookHarness;
  let accountId: string;
  let serverId: string;
  let path: string;
  let auth: string;

  beforeAll(async () => {
    const url = await fake.start();
    // Listening: SparkPost pings the target while the webhook is created, before we store its credentials.
    h = await WebhookHarness.start({ SPARKPOST_API_URL: url }, { listen: true });
  });
  afterAll(async () => {
    await h?.close();
    await fake.stop();
  });

  /** REGISTERED proves the round trip: the fake's creation ping reached our endpoint and got 200. */
  beforeAll(async () => {
    const created = await h.server({ provider: 'SPARKPOST', credentials: { sparkpost: { apiKey: 'sp-test-key' } } });
    expect(created.server.webhook).toMatchObject({ status: 'REGISTERED', error: null });
    accountId = created.accountId;
    serverId = created.server.id;
    path = `/webhooks/sparkpost/${serverId}`;
    const hook = [...fake.webhooks.values()].find((w) => w.target === created.server.webhook.url);
    if (!hook?.auth_credentials) throw new Error('no webhook with basic auth at the fake');
    auth = `Basic ${Buffer.from(`${hook.auth_credentials.username}:${hook.auth_credentials.password}`).toString('base64')}`;
  });

  const transmissionId = () => String(10n ** 16n + BigInt(Math.floor(Math.random() * 1e12)));
  const messageEvent = (type: string, transmission: string, rcpt: string, extra: Record<string, unknown> = {}) => ({
    msys: { message_event: { type, event_id: randomUUID(), transmission_id: transmission, rcpt_to: rcpt, timestamp: String(Math.floor(Date.now() / 1000)), ...extra } },
  });
  const post = (batch: unknown, authorization: string | null = auth): WebhookPost => ({
    rawBody: Buffer.from(JSON.stringify(batch)),
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
  });

  it('applies a batch: delivery, hard bounce (class 10), spam complaint, soft bounce; suppresses; stores a redelivered batch once', async () => {
    const delivered = await h.sentMessage(accountId, serverId, transmissionId());
    const bounced = await h.sentMessage(accountId, serverId, transmissionId());
    const complained = await h.sentMessage(accountId, serverId, transmissionId());
    const soft = await h.sentMessage(accountId, serverId, transmissionId());
    const batch = [
      messageEvent('delivery', delivered.providerMessageId, delivered.to),
      messageEvent('bounce', bounced.providerMessageId, bounced.to, { bounce_class: '10', reason: '550 5.1.1 unknown user' }),
      messageEvent('spam_complaint', complained.providerMessageId, complained.to, { fbtype: 'abuse' }),
      messageEvent('bounce', soft.providerMessageId, soft.to, { bounce_class: '21' }),
      { msys: { track_event: { type: 'open' } } },
    ];
    const res = await h.post(path, post(batch));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: 4, stored: 4, duplicates: 0, unknown: 0 });
    expect((await h.message(delivered.id)).status).toBe('DELIVERED');
    expect(await h.message(bounced.id)).toMatchObject({ status: 'BOUNCED', events: [{ type: 'HARD_BOUNCE', detail: 'bounce_class 10: 550 5.1.1 unknown user' }] });
    expect((await h.message(complained.id)).status).toBe('COMPLAINED');
    expect(await h.message(soft.id)).toMatchObject({ status: 'BOUNCED', error: { code: 'RECIPIENT_REJECTED' }, events: [{ type: 'SOFT_BOUNCE' }] });
    const suppressed = await h.suppressions(accountId);
    expect(suppressed).toEqual(expect.arrayContaining([{ email: bounced.to, reason: 'HARD_BOUNCE' }, { email: complained.to, reason: 'COMPLAINT' }]));
    expect(suppressed.map((s) => s.email)).not.toContain(soft.to);

    const again = await h.post(path, post(batch));
    expect(again.body).toEqual({ received: 4, stored: 0, duplicates: 4, unknown: 0 });
    expect(await h.eventTypes(bounced.id)).toEqual(['HARD_BOUNCE']);
  });

  it('fails a message on a policy rejection; an auto-reply (class 60) is no failure, even before the delivery is posted', async () => {
    const rejected = await h.sentMessage(accountId, serverId, transmissionId());
    const replied = await h.sentMessage(accountId, serverId, transmissionId());
    const batch = [
      messageEvent('policy_rejection', rejected.providerMessageId, rejected.to, { bounce_class: '25', reason: '550 5.7.1 [internal] recipient blackholed' }),
      messageEvent('out_of_band', replied.providerMessageId, replied.to, { bounce_class: '60', reason: 'auto-reply: on holiday' }),
    ];
    expect((await h.post(path, post(batch))).body).toMatchObject({ received: 1, stored: 1 });
    expect(await h.message(rejected.id)).toMatchObject({ status: 'FAILED', error: { code: 'MESSAGE_REJECTED', smtpResponseCode: 550 }, events: [{ type: 'REJECTED' }] });
    expect(await h.message(replied.id)).toMatchObject({ status: 'SENT', error: null, events: [] });
    const suppressed = (await h.suppressions(accountId)).map((s) => s.email);
    expect(suppressed).not.toContain(rejected.to);
  });

  it('a delivery posted after a soft bounce (batches arrive out of order) makes the message DELIVERED; after a hard bounce it does not', async () => {
    const soft = await h.sentMessage(accountId, serverId, transmissionId());
    const hard = await h.sentMessage(accountId, serverId, transmissionId());
    const bounces = [
      messageEvent('bounce', soft.providerMessageId, soft.to, { bounce_class: '22', reason: '452 mailbox full' }),
      messageEvent('bounce', hard.providerMessageId, hard.to, { bounce_class: '10', reason: '550 unknown user' }),
    ];
    expect((await h.post(path, post(bounces))).status).toBe(200);
    expect((await h.message(soft.id)).status).toBe('BOUNCED');
    const deliveries = [messageEvent('delivery', soft.providerMessageId, soft.to), messageEvent('delivery', hard.providerMessageId, hard.to)];
    expect((await h.post(path, post(deliveries))).status).toBe(200);
    expect(await h.message(soft.id)).toMatchObject({ status: 'DELIVERED', error: null, events: [{ type: 'SOFT_BOUNCE' }, { type: 'DELIVERED' }] });
    expect(await h.message(hard.id)).toMatchObject({ status: 'BOUNCED', error: { code: 'RECIPIENT_REJECTED' } });
  });

  it('a hard bounce after a soft one replaces its error; a complaint after a soft bounce marks COMPLAINED', async () => {
    const bounced = await h.sentMessage(accountId, serverId, transmissionId());
    const complained = await h.sentMessage(accountId, serverId, transmissionId());
    const soft = [bounced, complained].map((m) => messageEvent('bounce', m.providerMessageId, m.to, { bounce_class: '22', reason: '452 mailbox full' }));
    expect((await h.post(path, post(soft))).status).toBe(200);
    const later = [
      messageEvent('out_of_band', bounced.providerMessageId, bounced.to, { bounce_class: '10', reason: '550 5.1.1 unknown user' }),
      messageEvent('spam_complaint', complained.providerMessageId, complained.to, { fbtype: 'abuse' }),
    ];
    expect((await h.post(path, post(later))).status).toBe(200);
    expect(await h.message(bounced.id)).toMatchObject({ status: 'BOUNCED', error: { code: 'RECIPIENT_REJECTED', smtpResponseCode: 550 } });
    expect((await h.message(bounced.id)).error?.message).toContain('hard bounce');
    expect((await h.message(complained.id)).status).toBe('COMPLAINED');
  });

  it('a second hard bounce keeps the first one\'s error, and a complaint after a hard bounce leaves it BOUNCED', async () => {
    const m = await h.sentMessage(accountId, serverId, transmissionId());
    const first = messageEvent('bounce', m.providerMessageId, m.to, { bounce_class: '10', reason: '550 5.1.1 unknown user' });
    expect((await h.post(path, post([first]))).status).toBe(200);
    const later = [
      messageEvent('out_of_band', m.providerMessageId, m.to, { bounce_class: '30', reason: '554 no such domain' }),
      messageEvent('spam_complaint', m.providerMessageId, m.to, { fbtype: 'abuse' }),
    ];
    expect((await h.post(path, post(later))).status).toBe(200);
    expect(await h.message(m.id)).toMatchObject({ status: 'BOUNCED', error: { smtpResponseCode: 550 } });
    expect((await h.post(path, post([first]))).body).toMatchObject({ duplicates: 1 });
    expect(await h.message(m.id)).toMatchObject({ status: 'BOUNCED', error: { smtpResponseCode: 550 } });
  });

  it('refuses missing or wrong credentials with 401 and changes nothing', async () => {
    const m = await h.sentMessage(accountId, serverId, transmissionId());
    const batch = [messageEvent('bounce', m.providerMessageId, m.to, { bounce_class: '10' })];
    const before = await h.countEvents();
    const wrong = `Basic ${Buffer.from('mailroute:wrong-password').toString('base64')}`;
    for (const authorization of [null, wrong, auth.replace('Basic', 'Bearer')]) {
      expect((await h.post(path, post(batch, authorization))).status).toBe(401);
    }
    expect(await h.countEvents()).toBe(before);
    expect((await h.message(m.id)).status).toBe('SENT');
    expect((await h.suppressions(accountId)).map((s) => s.email)).not.toContain(m.to);
  });

  it("answers SparkPost's test ping without credentials (it carries no event), and nothing else without them", async () => {
    const ping = await h.post(path, post([{ msys: {} }], null));
    expect(ping.status).toBe(200);
    expect(ping.body).toEqual({ received: 0, stored: 0, duplicates: 0, unknown: 0 });
    expect((await h.post(path, post([{ msys: {} }, { msys: { message_event: { type: 'delivery' } } }], null))).status).toBe(401);
  });

  it.each([
    ['answered 500 after making it', { status: 500, body: SPARKPOST_BODIES.serverError }],
    ['answered without its id', { status: 200, body: { results: {} } }],
  ])('a webhook create %s is FAILED, yet the batches SparkPost then posts with the password it was given are accepted; a new registration keeps that password', async (_case, reply) => {
    fake.createdWebhookReply = reply;
    let created: Awaited<ReturnType<WebhookHarness['server']>>;
    try {
      created = await h.server({ provider: 'SPARKPOST', credentials: { sparkpost: { apiKey: 'sp-test-key' } } });
    } finally {
      fake.createdWebhookReply = undefined;
    }
    expect(created.server.webhook.status).toBe('FAILED');
    const atSparkPost = () => [...fake.webhooks.values()].filter((w) => w.target === created.server.webhook.url);
    const [hook] = atSparkPost();
    if (!hook?.auth_credentials) throw new Error('the fake did not make the webhook');
    const theirs = `Basic ${Buffer.from(`${hook.auth_credentials.username}:${hook.auth_credentials.password}`).toString('base64')}`;
    const m = await h.sentMessage(created.accountId, created.server.id, transmissionId());
    const res = await h.post(`/webhooks/sparkpost/${created.server.id}`, post([messageEvent('delivery', m.providerMessageId, m.to)], theirs));
    expect({ status: res.status, body: res.body as unknown }).toEqual({ status: 200, body: { received: 1, stored: 1, duplicates: 0, unknown: 0 } });
    expect((await h.message(m.id)).status).toBe('DELIVERED');

    const again = await h.t.gqlOk<{ registerWebhooks: { webhook: { status: string } } }>(`mutation($id: ID!) { registerWebhooks(id: $id) { webhook { status } } }`, { id: created.server.id });
    expect(again.registerWebhooks.webhook.status).toBe('REGISTERED');
    expect(atSparkPost().map((w) => w.auth_credentials)).toEqual([hook.auth_credentials]);
  });

  it('answers 400 to an authenticated body that is not a batch', async () => {
    expect((await h.post(path, post({ msys: {} }))).status).toBe(400);
    expect((await h.post(path, { ...post([]), rawBody: Buffer.from('[{"msys":') })).status).toBe(400);
  });
});
