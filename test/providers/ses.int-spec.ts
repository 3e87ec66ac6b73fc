import { DeliveryErrorCode, DeliveryProvider, TransportKind, WebhookStatus } from '../../src/providers/provider.enums';
import type { ProviderServer, SesCredentials } from '../../src/providers/provider.types';
import { SesAdapter } from '../../src/providers/ses/ses.adapter';
import { SesFake } from '../fakes/ses-fake';
import { caught, closedPort, config, serveFake, TIMEOUT_MS } from './helpers';

const ACCESS_KEY_ID = 'AKIDTEST';
const SECRET = 'ses-secret-XYZ-0123456789';

describe('SesAdapter against the SES fake', () => {
  const fake = new SesFake({
    accessKeyIds: [ACCESS_KEY_ID],
    identities: {
      'orders@shop.test': 'SUCCESS',
      'brand.test': 'SUCCESS',
      'waiting.test': 'PENDING',
      'alice@example.org': 'SUCCESS',
    },
  });
  let adapter: SesAdapter;

  const server = (ses: Partial<SesCredentials> = {}): ProviderServer => ({
    id: 'srv-ses',
    provider: DeliveryProvider.AMAZON_SES,
    credentials: { ses: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET, region: 'us-east-1', ...ses } },
  });
  const simple = { from: 'orders@shop.test', to: 'alice@example.org', subject: 's', text: 't' };

  serveFake(fake, (url) => {
    adapter = new SesAdapter(config({ sesEndpoint: url }));
  });
  afterEach(() => {
    fake.sandbox = false;
  });

  it('sends from, to, subject, html, text, reply-to, custom headers, Message-ID and the configuration set', async () => {
    const result = await adapter.send(server({ configurationSetName: 'mailroute-events' }), {
      from: 'Shop <orders@shop.test>',
      to: 'alice@example.org',
      replyTo: 'help@shop.test',
      subject: 'Your order',
      html: '<p>Thanks</p>',
      text: 'Thanks',
      headers: [{ name: 'X-Campaign', value: 'welcome' }],
      messageId: '<abc.123@mailroute.test>',
    });

    expect(result.transport).toBe(TransportKind.API);
    expect(result.from).toBe('Shop <orders@shop.test>');
    expect(fake.accepted.find((m) => m.providerMessageId === result.providerMessageId)).toEqual({
      providerMessageId: result.providerMessageId,
      from: 'Shop <orders@shop.test>',
      to: ['alice@example.org'],
      subject: 'Your order',
      html: '<p>Thanks</p>',
      text: 'Thanks',
      replyTo: 'help@shop.test',
      headers: { 'X-Campaign': 'welcome', 'Message-ID': '<abc.123@mailroute.test>' },
      configurationSetName: 'mailroute-events',
    });
    const req = fake.requests.find((r) => r.path === '/v2/email/outbound-emails');
    expect(String(req?.headers.authorization)).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/us-east-1\/ses\/aws4_request/,
    );
  });

  it('sends without a configuration set when the server has none', async () => {
    const result = await adapter.send(server(), simple);
    expect(
      fake.accepted.find((m) => m.providerMessageId === result.providerMessageId)?.configurationSetName,
    ).toBeUndefined();
  });

  it('verifies working credentials with GetAccount', async () => {
    const before = fake.requests.length;
    await expect(adapter.verifyCredentials(server())).resolves.toBeUndefined();
    expect(fake.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v2/email/account']);
  });

  it('classifies an unknown access key as permanent AUTH_FAILED and never leaks the secret', async () => {
    const bad = server({ accessKeyId: 'AKIDWRONG', secretAccessKey: 'SG.secret-key-XYZ' });
    for (const call of [
      () => adapter.verifyCredentials(bad),
      () => adapter.send(bad, simple),
      () => adapter.checkSender(bad, 'orders@shop.test'),
    ]) {
      const err = await caught(call());
      expect(err.code).toBe(DeliveryErrorCode.AUTH_FAILED);
      expect(err.transient).toBe(false);
      expect(err.providerStatus).toBe(403);
      expect(err.message).toMatch(/security token included in the request is invalid/);
      expect(JSON.stringify(err)).not.toContain('SG.secret-key-XYZ');
      expect(err.message).not.toContain('SG.secret-key-XYZ');
    }
  });

  it('checkSender: a verified address or a verified domain is verified', async () => {
    await expect(adapter.checkSender(server(), 'Shop <orders@shop.test>')).resolves.toEqual({ verified: true });
    await expect(adapter.checkSender(server(), 'anyone@brand.test')).resolves.toEqual({ verified: true });
    // A verified domain covers its subdomains.
    await expect(adapter.checkSender(server(), 'news@mail.eu.brand.test')).resolves.toEqual({ verified: true });
    await expect(adapter.send(server(), { ...simple, from: 'news@mail.eu.brand.test' })).resolves.toMatchObject({
      from: 'news@mail.eu.brand.test',
    });
  });

  it('checkSender: unknown or pending identities are verified:false with a reason', async () => {
    await expect(adapter.checkSender(server(), 'x@waiting.test')).resolves.toEqual({
      verified: false,
      reason: 'domain waiting.test is pending verification in Amazon SES (us-east-1)',
    });
    const unknown = await adapter.checkSender(server(), 'nobody@else.test');
    expect(unknown).toEqual({
      verified: false,
      reason: 'neither nobody@else.test nor the domain else.test is a verified identity in Amazon SES (us-east-1)',
    });
    expect(fake.requests.some((r) => r.path === '/v2/email/identities/nobody@else.test')).toBe(true);
    expect(fake.requests.some((r) => r.path === '/v2/email/identities/else.test')).toBe(true);
  });

  it('a send from an unverified sender is SENDER_NOT_VERIFIED (permanent)', async () => {
    const err = await caught(adapter.send(server(), { ...simple, from: 'nobody@else.test' }));
    expect(err.code).toBe(DeliveryErrorCode.SENDER_NOT_VERIFIED);
    expect(err.transient).toBe(false);
    expect(err.providerStatus).toBe(400);
    expect(err.message).toMatch(/nobody@else.test/);
  });

  it('in the sandbox an unverified recipient is RECIPIENT_REJECTED, not a sender problem', async () => {
    fake.sandbox = true;
    const err = await caught(adapter.send(server(), { ...simple, to: 'stranger@example.net' }));
    expect(err.code).toBe(DeliveryErrorCode.RECIPIENT_REJECTED);
    expect(err.transient).toBe(false);
  });

  it('429 is transient THROTTLED with retryAfterMs from Retry-After, and the SDK does not retry', async () => {
    fake.fail(SesFake.throttled(4));
    const before = fake.requests.length;
    const err = await caught(adapter.send(server(), simple));
    expect(err.code).toBe(DeliveryErrorCode.THROTTLED);
    expect(err.transient).toBe(true);
    expect(err.providerStatus).toBe(429);
    expect(err.retryAfterMs).toBe(4000);
    expect(fake.requests.length - before).toBe(1);
  });

  it('the daily quota message is QUOTA_EXCEEDED', async () => {
    fake.fail(SesFake.dailyQuotaExceeded());
    const err = await caught(adapter.send(server(), simple));
    expect(err.code).toBe(DeliveryErrorCode.QUOTA_EXCEEDED);
    expect(err.transient).toBe(true);
  });

  it('5xx is transient PROVIDER_ERROR', async () => {
    fake.fail(SesFake.serverError(503));
    const err = await caught(adapter.verifyCredentials(server()));
    expect(err.code).toBe(DeliveryErrorCode.PROVIDER_ERROR);
    expect(err.transient).toBe(true);
    expect(err.providerStatus).toBe(503);
  });

  it('a hung API is a transient TIMEOUT within about httpTimeoutMs', async () => {
    fake.fail({ kind: 'hang' });
    const started = Date.now();
    const err = await caught(adapter.send(server(), simple));
    const elapsed = Date.now() - started;
    expect(err.code).toBe(DeliveryErrorCode.TIMEOUT);
    expect(err.transient).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 1500);
  });

  it('sends a non-ASCII header value as RFC 2047 encoded words (SES takes printable ASCII only); refuses one too long, naming it', async () => {
    const value = 'Été — ✓ spring';
    const result = await adapter.send(server(), { ...simple, headers: [{ name: 'X-Campaign', value }] });
    const sent = fake.accepted.find((m) => m.providerMessageId === result.providerMessageId)?.headers['X-Campaign'] ?? '';
    expect(sent).toMatch(/^[\x20-\x7e]+$/);
    const decoded = Buffer.concat(
      [...sent.matchAll(/=\?UTF-8\?Q\?(.*?)\?=/gi)].map(([, word]) => Buffer.from(word.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1')),
    ).toString('utf8');
    expect(decoded).toBe(value);
    // ASCII control characters (a tab) are not printable either.
    const tabbed = await adapter.send(server(), { ...simple, headers: [{ name: 'X-Tabbed', value: 'a\tb' }] });
    expect(fake.accepted.find((m) => m.providerMessageId === tabbed.providerMessageId)?.headers['X-Tabbed']).toBe('=?UTF-8?Q?a=09b?=');

    const long = await caught(adapter.send(server(), { ...simple, headers: [{ name: 'X-Long', value: 'é'.repeat(400) }] }));
    expect(long).toMatchObject({ code: DeliveryErrorCode.MESSAGE_REJECTED, transient: false });
    expect(long.message).toContain('X-Long');
  });

  it('a refused connection is transient CONNECTION_FAILED', async () => {
    const closed = new SesAdapter(config({ sesEndpoint: `http://127.0.0.1:${await closedPort()}` }));
    const err = await caught(closed.verifyCredentials(server()));
    expect(err.code).toBe(DeliveryErrorCode.CONNECTION_FAILED);
    expect(err.transient).toBe(true);
  });
});

describe('SesAdapter webhooks (configuration set → SNS → HTTPS) against the SES fake', () => {
  const fake = new SesFake({ accessKeyIds: [ACCESS_KEY_ID] });
  let adapter: SesAdapter;
  const server = (ses: Partial<SesCredentials> = {}): ProviderServer => ({
    id: 'srv-ses-wh',
    provider: DeliveryProvider.AMAZON_SES,
    credentials: { ses: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET, region: 'us-east-1', ...ses } },
  });
  const URL = 'https://mailroute.test/webhooks/ses/srv-ses-wh';

  beforeAll(async () => {
    const url = await fake.start();
    adapter = new SesAdapter(config({ sesEndpoint: url, snsEndpoint: url }));
  });
  afterAll(() => fake.stop());

  it('creates a configuration set, topic with an SES-only policy, event destination and subscription; idempotent; removal undoes it', async () => {
    const first = await adapter.registerWebhooks(server(), URL);
    expect(first).toMatchObject({
      status: WebhookStatus.PENDING,
      url: URL,
      error: null,
      events: ['BOUNCE', 'COMPLAINT', 'DELIVERY', 'REJECT'],
    });
    const state = first.state ?? {};
    expect(state).toMatchObject({
      configurationSetName: 'mailroute-srv-ses-wh',
      createdConfigurationSet: 'true',
      topicArn: 'arn:aws:sns:us-east-1:111122223333:mailroute-ses-srv-ses-wh',
      eventDestinationName: 'mailroute-srv-ses-wh',
    });
    expect(state.subscriptionArn).toMatch(/^arn:aws:sns:us-east-1:111122223333:mailroute-ses-srv-ses-wh:/);

    const set = fake.configurationSets.get('mailroute-srv-ses-wh');
    expect(set?.eventDestinations.get('mailroute-srv-ses-wh')).toEqual({
      Enabled: true,
      MatchingEventTypes: ['BOUNCE', 'COMPLAINT', 'DELIVERY', 'REJECT'],
      SnsDestination: { TopicArn: state.topicArn },
    });
    const topic = fake.topics.get(state.topicArn);
    const policy = JSON.parse(topic?.attributes.Policy ?? '{}') as {
      Statement: { Principal: unknown; Condition: { StringEquals: Record<string, string> } }[];
    };
    expect(policy.Statement[0].Principal).toEqual({ Service: 'ses.amazonaws.com' });
    expect(policy.Statement[0].Condition.StringEquals['AWS:SourceArn']).toBe(
      'arn:aws:ses:us-east-1:111122223333:configuration-set/mailroute-srv-ses-wh',
    );
    expect(topic?.subscriptions.map((x) => [x.protocol, x.endpoint])).toEqual([['https', URL]]);
    const snsCall = fake.requests.find((r) => r.method === 'POST' && r.path === '/');
    expect(String(snsCall?.headers.authorization)).toMatch(/Credential=AKIDTEST\/\d{8}\/us-east-1\/sns\/aws4_request/);

    const again = await adapter.registerWebhooks(server(), URL);
    expect(again.state).toEqual(state);
    expect(fake.topics.get(state.topicArn)?.subscriptions).toHaveLength(1);
    expect(
      fake.requests.some(
        (r) =>
          r.method === 'PUT' &&
          r.path === '/v2/email/configuration-sets/mailroute-srv-ses-wh/event-destinations/mailroute-srv-ses-wh',
      ),
    ).toBe(true);

    await adapter.removeWebhooks(server(), again);
    expect(fake.configurationSets.has('mailroute-srv-ses-wh')).toBe(false);
    expect(fake.topics.has(state.topicArn)).toBe(false);
    await expect(adapter.removeWebhooks(server(), again)).resolves.toBeUndefined();
  });

  it("uses the server's own configuration set and leaves it and its other destinations in place on removal", async () => {
    fake.configurationSets.set('customer-set', {
      name: 'customer-set',
      eventDestinations: new Map([['customer-firehose', { Enabled: true }]]),
    });
    const result = await adapter.registerWebhooks(server({ configurationSetName: 'customer-set' }), URL);
    expect(result.state).toMatchObject({ configurationSetName: 'customer-set', createdConfigurationSet: 'false' });
    expect([...(fake.configurationSets.get('customer-set')?.eventDestinations.keys() ?? [])]).toEqual([
      'customer-firehose',
      'mailroute-srv-ses-wh',
    ]);
    await adapter.removeWebhooks(server({ configurationSetName: 'customer-set' }), result);
    expect([...(fake.configurationSets.get('customer-set')?.eventDestinations.keys() ?? [])]).toEqual([
      'customer-firehose',
    ]);
  });

  it('two servers naming the same configuration set each publish to their own topic; removing one leaves the other', async () => {
    fake.configurationSets.set('shared-set', { name: 'shared-set', eventDestinations: new Map() });
    const [a, b] = ['srv-a', 'srv-b'].map((id) => ({ ...server({ configurationSetName: 'shared-set' }), id }));
    const first = await adapter.registerWebhooks(a, 'https://mailroute.test/webhooks/ses/srv-a');
    const second = await adapter.registerWebhooks(b, 'https://mailroute.test/webhooks/ses/srv-b');
    const destinations = fake.configurationSets.get('shared-set')?.eventDestinations ?? new Map();
    expect(destinations.get('mailroute-srv-a')?.SnsDestination).toEqual({ TopicArn: first.state?.topicArn });
    expect(destinations.get('mailroute-srv-b')?.SnsDestination).toEqual({ TopicArn: second.state?.topicArn });
    expect(first.state?.topicArn).not.toBe(second.state?.topicArn);
    await adapter.removeWebhooks(a, first);
    expect([...destinations.keys()]).toEqual(['mailroute-srv-b']);
    await adapter.removeWebhooks(b, second);
    expect(destinations.size).toBe(0);
  });

  it("registering again replaces the shared 'mailroute-sns' destination of an older registration with the server's own, leaving another server's", async () => {
    const topicArn = 'arn:aws:sns:us-east-1:111122223333:mailroute-ses-srv-ses-wh';
    const othersTopic = 'arn:aws:sns:us-east-1:111122223333:mailroute-ses-someone-else';
    fake.configurationSets.set('legacy-set', { name: 'legacy-set', eventDestinations: new Map([['mailroute-sns', { Enabled: true, SnsDestination: { TopicArn: topicArn } }]]) });
    fake.configurationSets.set('others-set', { name: 'others-set', eventDestinations: new Map([['mailroute-sns', { Enabled: true, SnsDestination: { TopicArn: othersTopic } }]]) });
    const result = await adapter.registerWebhooks(server({ configurationSetName: 'legacy-set' }), URL);
    expect(result.state?.topicArn).toBe(topicArn);
    expect([...(fake.configurationSets.get('legacy-set')?.eventDestinations.keys() ?? [])]).toEqual(['mailroute-srv-ses-wh']);
    const other = await adapter.registerWebhooks(server({ configurationSetName: 'others-set' }), URL);
    expect([...(fake.configurationSets.get('others-set')?.eventDestinations.keys() ?? [])]).toEqual(['mailroute-sns', 'mailroute-srv-ses-wh']);
    await adapter.removeWebhooks(server({ configurationSetName: 'legacy-set' }), result);
    await adapter.removeWebhooks(server({ configurationSetName: 'others-set' }), other);
  });

  it('bad credentials make the registration FAILED without leaking the secret', async () => {
    const result = await adapter.registerWebhooks(server({ accessKeyId: 'AKIDWRONG' }), URL);
    expect(result.status).toBe(WebhookStatus.FAILED);
    expect(result.error).toMatch(/rejected the credentials/);
    expect(result.error).not.toContain(SECRET);
  });

  describe('parseWebhook', () => {
    let state: Record<string, string>;
    const bounce = {
      eventType: 'Bounce',
      bounce: {
        bounceType: 'Permanent',
        bounceSubType: 'General',
        bouncedRecipients: [
          {
            emailAddress: 'Recipient@example.com',
            action: 'failed',
            status: '5.1.1',
            diagnosticCode: 'smtp; 550 5.1.1 user unknown',
          },
        ],
        timestamp: '2017-08-05T00:41:02.669Z',
      },
      mail: {
        timestamp: '2017-08-05T00:40:02.012Z',
        messageId: 'EXAMPLE7c191be45-000000',
        destination: ['recipient@example.com'],
      },
    };

    beforeAll(async () => {
      state = (await adapter.registerWebhooks(server(), URL + '/parse')).state ?? {};
    });

    it('confirms a signed SubscriptionConfirmation through the SNS API', async () => {
      // The topic may hold other subscriptions (earlier registrations of the same server): this endpoint's.
      const ours = () => fake.topics.get(state.topicArn)?.subscriptions.find((s) => s.endpoint === URL + '/parse');
      expect(ours()?.confirmed).toBe(false);
      const post = fake.subscriptionConfirmation(state.topicArn, URL + '/parse');
      await expect(adapter.parseWebhook(server(), post, state)).resolves.toEqual([]);
      expect(ours()?.confirmed).toBe(true);
    });

    it('maps signed notifications (SignatureVersion 1 and 2)', async () => {
      const [hard] = await adapter.parseWebhook(server(), fake.notification(state.topicArn, bounce, '2'), state);
      expect(hard).toMatchObject({
        kind: 'HARD_BOUNCE',
        providerMessageId: 'EXAMPLE7c191be45-000000',
        recipient: 'recipient@example.com',
        occurredAt: new Date('2017-08-05T00:41:02.669Z'),
      });
      expect(hard.eventId).toMatch(/:recipient@example.com$/);
      const soft = { ...bounce, bounce: { ...bounce.bounce, bounceType: 'Transient', bounceSubType: 'MailboxFull' } };
      const complaint = {
        eventType: 'Complaint',
        complaint: {
          complainedRecipients: [{ emailAddress: 'c@example.com' }],
          timestamp: '2017-08-05T00:41:02.669Z',
          complaintFeedbackType: 'abuse',
        },
        mail: bounce.mail,
      };
      const delivery = {
        eventType: 'Delivery',
        delivery: {
          timestamp: '2016-10-19T23:21:04.133Z',
          recipients: ['d@example.com'],
          smtpResponse: '250 2.6.0 Message received',
        },
        mail: bounce.mail,
      };
      const legacy = {
        notificationType: 'Delivery',
        delivery: { timestamp: '2016-10-19T23:21:04.133Z', recipients: ['e@example.com'] },
        mail: bounce.mail,
      };
      // Not sent (the address is on the AWS account's suppression list): a refusal, not a complaint.
      const accountSuppressed = { ...complaint, complaint: { ...complaint.complaint, complaintSubType: 'OnAccountSuppressionList', complaintFeedbackType: undefined } };
      const notSpam = { ...complaint, complaint: { ...complaint.complaint, complaintFeedbackType: 'not-spam' } };
      const kinds = [];
      for (const e of [soft, complaint, delivery, legacy, accountSuppressed, notSpam])
        kinds.push(
          (await adapter.parseWebhook(server(), fake.notification(state.topicArn, e, '1'), state)).map((x) => x.kind),
        );
      expect(kinds).toEqual([['SOFT_BOUNCE'], ['COMPLAINT'], ['DELIVERED'], ['DELIVERED'], ['REJECTED'], []]);
    });

    it('names an event by what SES published, so a second copy in another SNS message is the same event; delays stay apart', async () => {
      const twice = async (e: Record<string, unknown>): Promise<string[]> => {
        const ids = [];
        for (let i = 0; i < 2; i++) ids.push(...(await adapter.parseWebhook(server(), fake.notification(state.topicArn, e), state)).map((x) => x.eventId));
        return ids;
      };
      const withFeedback = { ...bounce, bounce: { ...bounce.bounce, feedbackId: '01000157c44f053b-61b59c11-example-000000' } };
      const delivery = { eventType: 'Delivery', delivery: { timestamp: '2016-10-19T23:21:04.133Z', recipients: ['d@example.com'] }, mail: bounce.mail };
      const delay = { eventType: 'DeliveryDelay', deliveryDelay: { delayType: 'MailboxFull', delayedRecipients: [{ emailAddress: 'd@example.com' }] }, mail: bounce.mail };
      const [bounceA, bounceB] = await twice(withFeedback);
      expect(bounceA).toBe(bounceB);
      const [deliveryA, deliveryB] = await twice(delivery);
      expect(deliveryA).toBe(deliveryB);
      const [delayA, delayB] = await twice(delay);
      expect(delayA).not.toBe(delayB);
      // A bounce without a feedback id keeps its SNS message's id.
      const [plainA, plainB] = await twice(bounce);
      expect(plainA).not.toBe(plainB);
    });

    it('rejects another topic, a tampered message, a foreign certificate URL and a missing signature as AUTH_FAILED', async () => {
      const good = fake.notification(state.topicArn, bounce);
      const parsed = JSON.parse(good.rawBody.toString()) as Record<string, string>;
      const variants = [
        { ...parsed, TopicArn: 'arn:aws:sns:us-east-1:999999999999:other' },
        { ...parsed, Message: parsed.Message.replace('Permanent', 'Transient') },
        { ...parsed, SigningCertURL: 'https://evil.example/SimpleNotificationService-x.pem' },
        { ...parsed, Signature: undefined },
      ];
      for (const body of variants) {
        const err = await caught(
          adapter.parseWebhook(server(), { ...good, rawBody: Buffer.from(JSON.stringify(body)) }, state),
        );
        expect(err.code).toBe(DeliveryErrorCode.AUTH_FAILED);
      }
    });

    it('a body that is not an SNS message is MESSAGE_REJECTED', async () => {
      const err = await caught(
        adapter.parseWebhook(server(), { headers: {}, url: '/x', rawBody: Buffer.from('[1,2]') }, state),
      );
      expect(err.code).toBe(DeliveryErrorCode.MESSAGE_REJECTED);
    });
  });
});
