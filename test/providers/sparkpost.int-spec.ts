import { randomUUID } from 'node:crypto';
import { DeliveryErrorCode, DeliveryProvider, TransportKind, WebhookStatus } from '../../src/providers/provider.enums';
import type { ProviderServer } from '../../src/providers/provider.types';
import { SparkPostAdapter } from '../../src/providers/sparkpost/sparkpost.adapter';
import { FakeHttpServer } from '../fakes/fake-http-server';
import { SPARKPOST_BODIES, SparkPostFake } from '../fakes/sparkpost-fake';
import { caught, config, message, serveFake, TIMEOUT_MS } from './helpers';

const KEY = 'sp-live-0123456789abcdef';

function server(overrides: Partial<ProviderServer> = {}, apiKey = KEY): ProviderServer {
  return {
    id: randomUUID(),
    provider: DeliveryProvider.SPARKPOST,
    credentials: { sparkpost: { apiKey, region: 'US' } },
    ...overrides,
  };
}

describe('SparkPostAdapter against the SparkPost fake', () => {
  const fake = new SparkPostFake();
  let adapter: SparkPostAdapter;

  beforeAll(() => {
    fake.apiKeys.add(KEY);
  });
  serveFake(fake, (url) => {
    adapter = new SparkPostAdapter(config({ sparkpostApiUrl: url }));
  });

  describe('send', () => {
    it('delivers every field, the Message-ID and the IP pool to the transmissions API', async () => {
      const msg = message({
        replyTo: 'Support <reply@example.com>',
        headers: [{ name: 'X-Campaign', value: 'welcome' }],
        messageId: '<abc.123@mailroute.test>',
      });
      const result = await adapter.send(server({ ipPool: 'transactional' }), msg);

      const sent = fake.messages.find((m) => m.subject === msg.subject);
      expect(sent).toEqual({
        id: result.providerMessageId,
        from: 'sender@example.com',
        fromName: 'Sender',
        to: ['to@example.org'],
        subject: msg.subject,
        html: '<p>html</p>',
        text: 'plain',
        replyTo: 'Support <reply@example.com>',
        headers: { 'X-Campaign': 'welcome', 'Message-ID': '<abc.123@mailroute.test>' },
        ipPool: 'transactional',
      });
      expect(result).toEqual({ transport: TransportKind.API, providerMessageId: sent!.id, from: msg.from });
      const req = fake.requestsTo('POST', '/api/v1/transmissions').at(-1)!;
      expect(req.headers.authorization).toBe(KEY);
    });

    it('sends no ip_pool when the server has none', async () => {
      const msg = message();
      await adapter.send(server({ ipPool: null }), msg);
      expect(fake.messages.find((m) => m.subject === msg.subject)?.ipPool).toBeUndefined();
    });

    it('maps a bad API key to a permanent AUTH_FAILED without the key in the message', async () => {
      const err = await caught(adapter.send(server({}, 'sp-wrong-key-987654'), message()));
      expect(err).toMatchObject({ code: DeliveryErrorCode.AUTH_FAILED, transient: false, providerStatus: 401 });
      expect(err.message).not.toContain('sp-wrong-key-987654');
    });

    it('maps an unverified sending domain to SENDER_NOT_VERIFIED', async () => {
      const err = await caught(adapter.send(server(), message({ from: 'who@unverified.example' })));
      expect(err).toMatchObject({ code: DeliveryErrorCode.SENDER_NOT_VERIFIED, transient: false, providerStatus: 400 });
      expect(err.message).toMatch(/sending domain/i);
    });

    it('maps 429 to THROTTLED with the Retry-After delay', async () => {
      fake.fail({ kind: 'status', status: 429, body: SPARKPOST_BODIES.rateLimited, headers: { 'retry-after': '3' } });
      const err = await caught(adapter.send(server(), message()));
      expect(err).toMatchObject({ code: DeliveryErrorCode.THROTTLED, transient: true, retryAfterMs: 3000, providerStatus: 429 });
    });

    it('maps 5xx to a transient PROVIDER_ERROR', async () => {
      fake.fail({ kind: 'status', status: 503, body: SPARKPOST_BODIES.serverError });
      const err = await caught(adapter.send(server(), message()));
      expect(err).toMatchObject({ code: DeliveryErrorCode.PROVIDER_ERROR, transient: true, providerStatus: 503 });
    });

    it('maps the 420 sending limit to QUOTA_EXCEEDED', async () => {
      fake.fail({ kind: 'status', status: 420, body: SPARKPOST_BODIES.sendingLimit });
      const err = await caught(adapter.send(server(), message()));
      expect(err).toMatchObject({ code: DeliveryErrorCode.QUOTA_EXCEEDED, providerStatus: 420 });
    });

    it('times out a hanging API within its bound', async () => {
      fake.fail({ kind: 'hang' });
      const started = Date.now();
      const err = await caught(adapter.send(server(), message()));
      expect(err).toMatchObject({ code: DeliveryErrorCode.TIMEOUT, transient: true });
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1500);
    });

    it('never repeats the API key even when the provider echoes it', async () => {
      fake.fail({ kind: 'status', status: 401, body: { errors: [{ message: `Unauthorized key ${KEY}` }] } });
      const err = await caught(adapter.send(server(), message()));
      expect(err.code).toBe(DeliveryErrorCode.AUTH_FAILED);
      expect(err.message).not.toContain(KEY);
      expect(JSON.stringify(err.toInit())).not.toContain(KEY);
    });
  });

  describe('verifyCredentials', () => {
    it('accepts a valid key with GET /api/v1/account', async () => {
      const before = fake.requestsTo('GET', '/api/v1/account').length;
      await expect(adapter.verifyCredentials(server())).resolves.toBeUndefined();
      expect(fake.requestsTo('GET', '/api/v1/account')).toHaveLength(before + 1);
    });

    it('accepts a send-only key (403 on /account means SparkPost knows the key)', async () => {
      fake.apiKeys.add('sp-send-only');
      fake.sendOnlyKeys.add('sp-send-only');
      await expect(adapter.verifyCredentials(server({}, 'sp-send-only'))).resolves.toBeUndefined();
    });

    it('rejects a bad key with AUTH_FAILED', async () => {
      const err = await caught(adapter.verifyCredentials(server({}, 'sp-nope-1234')));
      expect(err).toMatchObject({ code: DeliveryErrorCode.AUTH_FAILED, transient: false });
      expect(err.message).not.toContain('sp-nope-1234');
    });

    it('reports CONNECTION_FAILED when nothing listens', async () => {
      const closed = new FakeHttpServer();
      const url = await closed.start();
      await closed.stop();
      const err = await caught(new SparkPostAdapter(config({ sparkpostApiUrl: url })).verifyCredentials(server()));
      expect(err).toMatchObject({ code: DeliveryErrorCode.CONNECTION_FAILED, transient: true });
    });
  });

  describe('checkSender', () => {
    it('says verified for a verified sending domain', async () => {
      await expect(adapter.checkSender(server(), 'Someone <a@Example.com>')).resolves.toEqual({ verified: true });
      expect(fake.requests.at(-1)?.path).toBe('/api/v1/sending-domains/example.com');
    });

    it('explains a pending domain for a person', async () => {
      fake.sendingDomains.set('pending.example', 'pending');
      const check = await adapter.checkSender(server(), 'a@pending.example');
      expect(check.verified).toBe(false);
      expect(check.reason).toMatch(/pending\.example.*not verified.*DKIM pending/);
    });

    it('explains an unknown domain', async () => {
      const check = await adapter.checkSender(server(), 'a@nowhere.example');
      expect(check).toEqual({ verified: false, reason: expect.stringMatching(/nowhere\.example is not a sending domain/) });
    });

    it('explains a compliance-blocked domain', async () => {
      fake.sendingDomains.set('blocked.example', 'blocked');
      const check = await adapter.checkSender(server(), 'a@blocked.example');
      expect(check).toEqual({ verified: false, reason: expect.stringMatching(/blocked/) });
    });

    it('throws AUTH_FAILED for a bad key instead of answering', async () => {
      const err = await caught(adapter.checkSender(server({}, 'sp-bad-5555'), 'a@example.com'));
      expect(err.code).toBe(DeliveryErrorCode.AUTH_FAILED);
    });
  });

  describe('webhooks', () => {
    // Stands in for our public endpoint: SparkPost pings a target before accepting it.
    const receiver = new FakeHttpServer();
    let receiverUrl: string;
    beforeAll(async () => {
      receiver.route('POST', '/webhooks/sparkpost/:id', () => ({ status: 200 }));
      receiverUrl = await receiver.start();
    });
    afterAll(() => receiver.stop());

    const ours = (target: string) => [...fake.webhooks.values()].filter((w) => w.target === target);

    it('registers one webhook with our events and generated basic-auth credentials', async () => {
      const url = `${receiverUrl}/webhooks/sparkpost/${randomUUID()}`;
      const result = await adapter.registerWebhooks(server(), url);

      expect(result).toMatchObject({
        status: WebhookStatus.REGISTERED,
        url,
        events: ['bounce', 'spam_complaint', 'delivery', 'out_of_band', 'policy_rejection'],
      });
      const [hook] = ours(url);
      expect(hook).toMatchObject({
        id: result.state?.webhookId,
        events: ['bounce', 'spam_complaint', 'delivery', 'out_of_band', 'policy_rejection'],
        auth_type: 'basic',
        auth_credentials: { username: result.state?.username, password: result.state?.password },
      });
      expect(result.state?.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
      const ping = receiver.requests.find((r) => r.path === new URL(url).pathname);
      const expectedAuth = `Basic ${Buffer.from(`${result.state?.username}:${result.state?.password}`).toString('base64')}`;
      expect(ping?.headers.authorization).toBe(expectedAuth);
    });

    it('is idempotent: registering the same URL again updates our webhook instead of adding one', async () => {
      const url = `${receiverUrl}/webhooks/sparkpost/${randomUUID()}`;
      const first = await adapter.registerWebhooks(server(), url);
      const second = await adapter.registerWebhooks(server(), url);
      expect(second.status).toBe(WebhookStatus.REGISTERED);
      expect(second.state?.webhookId).toBe(first.state?.webhookId);
      expect(ours(url)).toHaveLength(1);
      expect(ours(url)[0].auth_credentials?.password).toBe(second.state?.password);
    });

    it('keeps the stored password when registering again, so a registration whose answer was lost leaves SparkPost and mailroute agreeing', async () => {
      const url = `${receiverUrl}/webhooks/sparkpost/${randomUUID()}`;
      const first = await adapter.registerWebhooks(server(), url);
      // The second registration's answer never reaches mailroute: what it stored is still the first's state.
      await adapter.registerWebhooks(server(), url, first.state ?? {});
      expect(ours(url)[0].auth_credentials?.password).toBe(first.state?.password);
    });

    it('removes only our webhook', async () => {
      const url = `${receiverUrl}/webhooks/sparkpost/${randomUUID()}`;
      const theirs = { id: `theirs-${randomUUID()}`, name: 'crm', target: 'https://crm.example/hook', events: ['bounce'], active: true, auth_type: 'none' };
      fake.webhooks.set(theirs.id, theirs);
      const registration = await adapter.registerWebhooks(server(), url);

      await adapter.removeWebhooks(server(), registration);
      expect(ours(url)).toHaveLength(0);
      expect(fake.webhooks.get(theirs.id)).toEqual(theirs);
      // Removing again (already gone at SparkPost) is not an error.
      await expect(adapter.removeWebhooks(server(), registration)).resolves.toBeUndefined();
    });

    it('finds our webhook by URL when the registration lost its id', async () => {
      const url = `${receiverUrl}/webhooks/sparkpost/${randomUUID()}`;
      const registration = await adapter.registerWebhooks(server(), url);
      await adapter.removeWebhooks(server(), { ...registration, state: undefined });
      expect(ours(url)).toHaveLength(0);
    });

    it('returns FAILED (not a throw) when SparkPost refuses because the target did not answer 200', async () => {
      const url = `${receiverUrl}/not-our-route/${randomUUID()}`;
      const result = await adapter.registerWebhooks(server(), url);
      expect(result).toMatchObject({ status: WebhookStatus.FAILED, url, error: expect.stringMatching(/returned 404/) });
      expect(ours(url)).toHaveLength(0);
    });

    it('returns FAILED with an auth explanation for a bad key, without the key', async () => {
      const result = await adapter.registerWebhooks(server({}, 'sp-bad-hook-key'), `${receiverUrl}/webhooks/sparkpost/x`);
      expect(result.status).toBe(WebhookStatus.FAILED);
      expect(result.error).toMatch(/API key/);
      expect(result.error).not.toContain('sp-bad-hook-key');
    });
  });

  describe('parseWebhook', () => {
    const state = { webhookId: 'wh-1', username: 'mailroute', password: 's3cret-pass' };
    const auth = `Basic ${Buffer.from('mailroute:s3cret-pass').toString('base64')}`;
    const event = (e: Record<string, unknown>) => ({ msys: { message_event: { timestamp: '1454442600', transmission_id: '65832150921904138', rcpt_to: 'recipient@example.com', ...e } } });
    const post = (body: unknown, authorization?: string) => ({
      headers: authorization ? { authorization } : {},
      rawBody: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
      url: '/webhooks/sparkpost/srv',
    });

    it('maps a batch to normalised events and ignores pings and engagement events', async () => {
      const batch = [
        { msys: {} },
        event({ type: 'bounce', bounce_class: '10', event_id: 'e1', reason: 'MAIL REFUSED' }),
        event({ type: 'bounce', bounce_class: '22', event_id: 'e2' }),
        event({ type: 'out_of_band', bounce_class: '25', event_id: 'e3' }),
        event({ type: 'delivery', event_id: 'e4' }),
        event({ type: 'spam_complaint', event_id: 'e5', fbtype: 'abuse' }),
        event({ type: 'policy_rejection', bounce_class: '25', event_id: 'e6' }),
        { msys: { track_event: { type: 'open', event_id: 'e7' } } },
      ];
      const events = await adapter.parseWebhook(server(), post(batch, auth), state);
      expect(events.map((e) => [e.eventId, e.kind])).toEqual([
        ['e1', 'HARD_BOUNCE'],
        ['e2', 'SOFT_BOUNCE'],
        ['e3', 'HARD_BOUNCE'],
        ['e4', 'DELIVERED'],
        ['e5', 'COMPLAINT'],
        ['e6', 'REJECTED'],
      ]);
      expect(events[0]).toEqual({
        kind: 'HARD_BOUNCE',
        eventId: 'e1',
        providerMessageId: '65832150921904138',
        recipient: 'recipient@example.com',
        occurredAt: new Date(1454442600 * 1000),
        detail: 'bounce_class 10: MAIL REFUSED',
      });
    });

    it.each([
      ['a wrong password', `Basic ${Buffer.from('mailroute:nope').toString('base64')}`],
      ['no Authorization header', undefined],
      ['a bearer token', 'Bearer s3cret-pass'],
    ])('refuses %s with AUTH_FAILED', async (_name, authorization) => {
      const err = await caught(adapter.parseWebhook(server(), post([event({ type: 'delivery' })], authorization), state));
      expect(err.code).toBe(DeliveryErrorCode.AUTH_FAILED);
    });

    it('refuses a malformed body with MESSAGE_REJECTED', async () => {
      const err = await caught(adapter.parseWebhook(server(), post('{"msys":', auth), state));
      expect(err.code).toBe(DeliveryErrorCode.MESSAGE_REJECTED);
    });
  });
});
