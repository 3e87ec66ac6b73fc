import { randomUUID } from 'node:crypto';
import { SNS_CERTIFICATE_CACHE_SIZE } from '../../src/providers/ses/sns-certificates';
import { FakeHttpServer } from '../fakes/fake-http-server';
import { SesFake, type SnsPost } from '../fakes/ses-fake';
import { WebhookHarness } from './webhook-harness';

const ACCESS_KEY = 'AKIATESTKEY00001';
const ROTATED_KEY = 'AKIATESTKEY00002';

describe('Amazon SES webhooks (SNS-signed, from our topic only)', () => {
  const fake = new SesFake({ accessKeyIds: [ACCESS_KEY, ROTATED_KEY], identities: { 'example.com': 'SUCCESS' } });
  let h: WebhookHarness;
  // The server the notification tests share: none of them changes it (its keys, its subscription).
  // A test that confirms, rotates or needs a subscription in a given state makes its own (sesServer).
  let accountId: string;
  let serverId: string;
  let endpoint: string;
  let topicArn: string;
  let path: string;
  let setName: string;

  interface SesServer {
    accountId: string;
    serverId: string;
    endpoint: string;
    topicArn: string;
    path: string;
    /** The configuration set its registration created at the fake. */
    setName: string;
  }
  /** A new SES server of a new agency, registered at the fake (its subscription unconfirmed: PENDING). */
  const sesServer = async (): Promise<SesServer> => {
    const setsBefore = new Set(fake.configurationSets.keys());
    const created = await h.server({
      provider: 'AMAZON_SES',
      senderAddress: 'news@example.com',
      credentials: { ses: { accessKeyId: ACCESS_KEY, secretAccessKey: 'x'.repeat(40), region: 'us-east-1' } },
    });
    expect(created.server.webhook.status).toBe('PENDING');
    const url = created.server.webhook.url ?? '';
    const topic = [...fake.topics.values()].find((t) => t.subscriptions.some((s) => s.endpoint === url));
    if (!topic) throw new Error('no SNS subscription of our endpoint at the fake');
    const set = [...fake.configurationSets.keys()].find((name) => !setsBefore.has(name));
    if (!set) throw new Error('no configuration set created for the server at the fake');
    return { accountId: created.accountId, serverId: created.server.id, endpoint: url, topicArn: topic.arn, path: `/webhooks/ses/${created.server.id}`, setName: set };
  };

  beforeAll(async () => {
    const url = await fake.start();
    h = await WebhookHarness.start({ SES_ENDPOINT: url, SNS_ENDPOINT: url });
    ({ accountId, serverId, endpoint, topicArn, path, setName } = await sesServer());
  });
  afterAll(async () => {
    await h.close();
    await fake.stop();
  });

  const webhookStatus = async (id: string) =>
    (await h.t.gqlOk<{ deliveryServer: { webhook: { status: string; registeredAt: string | null } } }>(`query($id: ID!) { deliveryServer(id: $id) { webhook { status registeredAt } } }`, { id }))
      .deliveryServer.webhook;
  const sesId = () => `0100018c${randomUUID().replace(/-/g, '')}-000000`;
  const mail = (messageId: string, to: string) => ({ timestamp: new Date().toISOString(), messageId, source: 'news@example.com', destination: [to] });
  /** The same signed post naming another SigningCertURL (the URL is not part of the signed string). */
  const signedFrom = (post: SnsPost, certUrl: string): SnsPost => ({
    ...post,
    rawBody: Buffer.from(JSON.stringify({ ...(JSON.parse(post.rawBody.toString()) as Record<string, unknown>), SigningCertURL: certUrl })),
  });
  const bounceOf = (m: { providerMessageId: string; to: string }) =>
    fake.notification(topicArn, {
      eventType: 'Bounce',
      mail: mail(m.providerMessageId, m.to),
      bounce: { bounceType: 'Permanent', bounceSubType: 'General', timestamp: new Date().toISOString(), bouncedRecipients: [{ emailAddress: m.to }] },
    });

  it('confirms the SNS subscription (text/plain post) and records the registration as REGISTERED', async () => {
    const own = await sesServer();
    const res = await h.post(own.path, fake.subscriptionConfirmation(own.topicArn, own.endpoint));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: 0, stored: 0, duplicates: 0, unknown: 0 });
    const sub = fake.topics.get(own.topicArn)?.subscriptions.find((s) => s.endpoint === own.endpoint);
    expect(sub?.confirmed).toBe(true);
    expect(await webhookStatus(own.serverId)).toMatchObject({ status: 'REGISTERED', registeredAt: expect.any(String) });
  });

  it('sends with the configuration set registration created, so SES publishes their events', async () => {
    const test = await h.t.gqlOk<{ testSmtpServer: { ok: boolean } }>(`mutation($id: ID!) { testSmtpServer(id: $id, to: "ops@example.com", transport: API) { ok } }`, { id: serverId });
    expect(test.testSmtpServer.ok).toBe(true);
    expect(fake.accepted.at(-1)).toMatchObject({ to: ['ops@example.com'], configurationSetName: setName });
  });

  it('rotating the SES keys keeps the configuration set: sends still name it', async () => {
    // Its own server: the rotation stays with it.
    const own = await sesServer();
    const input = { credentials: { ses: { accessKeyId: ROTATED_KEY, secretAccessKey: 'z'.repeat(40), region: 'us-east-1' } } };
    await h.t.gqlOk(`mutation($id: ID!, $input: UpdateDeliveryServerInput!) { updateDeliveryServer(id: $id, input: $input) { id } }`, { id: own.serverId, input });
    const test = await h.t.gqlOk<{ testSmtpServer: { ok: boolean } }>(`mutation($id: ID!) { testSmtpServer(id: $id, to: "ops@example.com", transport: API) { ok } }`, { id: own.serverId });
    expect(test.testSmtpServer.ok).toBe(true);
    expect(fake.accepted.at(-1)).toMatchObject({ to: ['ops@example.com'], configurationSetName: own.setName });
  });

  it('a soft bounce SES stopped retrying bounces without suppressing; a Reject fails the message; each with its error', async () => {
    const soft = await h.sentMessage(accountId, serverId, sesId());
    const rejected = await h.sentMessage(accountId, serverId, sesId());
    const transient = fake.notification(topicArn, {
      eventType: 'Bounce',
      mail: mail(soft.providerMessageId, soft.to),
      bounce: { bounceType: 'Transient', bounceSubType: 'MailboxFull', timestamp: new Date().toISOString(), bouncedRecipients: [{ emailAddress: soft.to, diagnosticCode: 'smtp; 452 4.2.2 mailbox full' }] },
    });
    const reject = fake.notification(topicArn, { eventType: 'Reject', mail: mail(rejected.providerMessageId, rejected.to), reject: { reason: 'Bad content' } });
    expect((await h.post(path, transient)).status).toBe(200);
    expect((await h.post(path, reject)).status).toBe(200);
    expect(await h.message(soft.id)).toMatchObject({ status: 'BOUNCED', error: { code: 'RECIPIENT_REJECTED', smtpResponseCode: 452 }, events: [{ type: 'SOFT_BOUNCE' }] });
    expect(await h.message(rejected.id)).toMatchObject({ status: 'FAILED', error: { code: 'MESSAGE_REJECTED' }, events: [{ type: 'REJECTED' }] });
    expect((await h.message(rejected.id)).error?.message).toContain('Bad content');
    const suppressed = (await h.suppressions(accountId)).map((s) => s.email);
    expect(suppressed).not.toContain(soft.to);
    expect(suppressed).not.toContain(rejected.to);
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

  it('refuses a certificate URL on a host that is not SNS with 401, without fetching it, changing nothing', async () => {
    const m = await h.sentMessage(accountId, serverId, sesId());
    const genuine = bounceOf(m);
    // A host that would serve a certificate to anyone who asks: it must never be asked.
    const elsewhere = new FakeHttpServer();
    const elsewhereUrl = await elsewhere.start();
    try {
      const before = await h.countEvents();
      for (const certUrl of [
        // Within SNS_CERT_URL_PATTERN's default (sns.<label>.amazonaws.com) but no SNS region: not looked up.
        'https://sns.attacker.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem',
        'https://sns.us-east-1.amazonaws.com.attacker.example/SimpleNotificationService-0123456789abcdef.pem',
        `${elsewhereUrl}/SimpleNotificationService-fake.pem`,
        `https://sns.us-east-1.amazonaws.com@${new URL(elsewhereUrl).host}/SimpleNotificationService-fake.pem`,
        `${fake.url}/SimpleNotificationService-fake.txt`,
        'not a url',
      ]) {
        const res = await h.post(path, signedFrom(genuine, certUrl));
        expect({ certUrl, status: res.status }).toEqual({ certUrl, status: 401 });
        expect(res.body).toEqual({ statusCode: 401, message: 'Webhook signature rejected' });
      }
      expect(elsewhere.requests).toEqual([]);
      expect(await h.countEvents()).toBe(before);
      expect((await h.message(m.id)).status).toBe('SENT');
    } finally {
      await elsewhere.stop();
    }
  });

  it('answers 503 while its SNS cannot serve the signing certificate (so SNS retries), and applies the retry; a certificate SNS does not have is 401', async () => {
    const m = await h.sentMessage(accountId, serverId, sesId());
    const certUrl = fake.rotateCertificate();
    const post = signedFrom(bounceOf(m), certUrl);
    const before = await h.countEvents();
    fake.failCertificates(SesFake.serverError(503));
    try {
      const res = await h.post(path, post);
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ statusCode: 503, message: 'Webhook cannot be checked now: retry later' });
      expect(fake.certificateFetches(certUrl)).toBe(1);
    } finally {
      fake.failCertificates({ kind: 'none' });
    }
    expect(await h.countEvents()).toBe(before);
    expect((await h.message(m.id)).status).toBe('SENT');

    // SNS retries once the certificate can be read again: the failure was not remembered.
    const retried = await h.post(path, post);
    expect(retried.status).toBe(200);
    expect(retried.body).toEqual({ received: 1, stored: 1, duplicates: 0, unknown: 0 });
    expect((await h.message(m.id)).status).toBe('BOUNCED');

    const other = await h.sentMessage(accountId, serverId, sesId());
    const missing = await h.post(path, signedFrom(bounceOf(other), `${fake.url}/SimpleNotificationService-${randomUUID()}.pem`));
    expect(missing.status).toBe(401);
    expect((await h.message(other.id)).status).toBe('SENT');
  });

  it('keeps a signing certificate in use cached while more certificates than the cache holds pass through, and drops the ones no longer used', async () => {
    const open = () => fake.notification(topicArn, { eventType: 'Open', mail: mail(sesId(), 'reader@example.org'), open: { timestamp: new Date().toISOString() } });
    const postFrom = async (certUrl: string) => {
      const res = await h.post(path, signedFrom(open(), certUrl));
      expect({ certUrl, status: res.status }).toEqual({ certUrl, status: 200 });
    };
    const inUse = fake.rotateCertificate();
    await postFrom(inUse);
    const passing: string[] = [];
    for (let round = 0; round < 2; round++) {
      // More than the cache holds over both rounds, fewer than it holds between two uses of `inUse`.
      for (let i = 0; i < Math.ceil(SNS_CERTIFICATE_CACHE_SIZE * 0.6); i++) {
        passing.push(fake.rotateCertificate());
        await postFrom(passing.at(-1) ?? '');
      }
      await postFrom(inUse);
    }
    expect(fake.certificateFetches(inUse)).toBe(1);
    expect(passing.map((url) => fake.certificateFetches(url))).toEqual(passing.map(() => 1));
    // The least recently used went: bounded, and fetched again when it is named again.
    await postFrom(passing[0]);
    expect(fake.certificateFetches(passing[0])).toBe(2);
  });

  it('answers 503 when the SNS API cannot be reached to confirm a verified subscription, so SNS retries', async () => {
    const own = await sesServer();
    const confirmation = fake.subscriptionConfirmation(own.topicArn, own.endpoint);
    const confirms = () => fake.requests.filter((r) => r.method === 'POST' && r.path === '/' && r.rawBody.toString().includes('Action=ConfirmSubscription')).length;
    const confirmsBefore = confirms();
    // Only the API fails: the signing certificate is still served, so this is the confirmation failing.
    fake.failSnsApi(SesFake.serverError(503));
    try {
      const res = await h.post(own.path, confirmation);
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ statusCode: 503, message: 'Webhook cannot be checked now: retry later' });
      expect(confirms()).toBe(confirmsBefore + 1);
    } finally {
      fake.failSnsApi({ kind: 'none' });
    }
  });

  it("answers 503, not 401, to a genuine confirmation that AWS refuses to confirm with the server's keys, and confirms the retry once the keys work", async () => {
    const own = await sesServer();
    const confirmation = fake.subscriptionConfirmation(own.topicArn, own.endpoint);
    // The server's key stops working at AWS (deactivated): ConfirmSubscription answers 403 InvalidClientTokenId.
    fake.accessKeyIds.delete(ACCESS_KEY);
    try {
      const res = await h.post(own.path, confirmation);
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ statusCode: 503, message: 'Webhook cannot be checked now: retry later' });
    } finally {
      fake.accessKeyIds.add(ACCESS_KEY);
    }
    expect((await h.post(own.path, confirmation)).status).toBe(200);
  });

  it("answers 200 to SES's plain-text topic validation (signed, from our topic, no event) and stores nothing; the same text from another topic, or altered, is 401", async () => {
    const before = await h.countEvents();
    const text = 'Successfully validated SNS topic for Amazon SES event publishing.';
    for (const version of ['1', '2'] as const) {
      const res = await h.post(path, fake.notification(topicArn, text, version));
      expect({ version, status: res.status, body: res.body as unknown }).toEqual({ version, status: 200, body: { received: 0, stored: 0, duplicates: 0, unknown: 0 } });
    }
    expect((await h.post(path, fake.notification(`${topicArn}-other`, text))).status).toBe(401);
    const tampered = fake.notification(topicArn, text);
    const forged = { ...tampered, rawBody: Buffer.from(tampered.rawBody.toString().replace('Successfully', 'Not')) };
    expect((await h.post(path, forged)).status).toBe(401);
    expect(await h.countEvents()).toBe(before);
  });

  it('answers 503, not 400, when SNS refuses to confirm a genuine confirmation as a bad request', async () => {
    const confirmation = fake.subscriptionConfirmation(topicArn, endpoint);
    for (const type of ['InvalidParameter', 'ValidationError']) {
      fake.failSnsApi({ kind: 'status', status: 400, body: { message: 'Invalid parameter: Token' }, headers: { 'x-amzn-ErrorType': type } });
      try {
        expect({ type, status: (await h.post(path, confirmation)).status }).toEqual({ type, status: 503 });
      } finally {
        fake.failSnsApi({ kind: 'none' });
      }
    }
  });

  it('answers 400 to a body that is not an SNS message', async () => {
    const headers = { 'content-type': 'text/plain; charset=UTF-8' };
    expect((await h.post(path, { rawBody: Buffer.from('not json at all'), headers })).status).toBe(400);
    expect((await h.post(path, { rawBody: Buffer.from('{"hello":"world"}'), headers })).status).toBe(400);
  });
});
