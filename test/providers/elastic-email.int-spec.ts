import { randomUUID } from 'node:crypto';
import { ElasticEmailAdapter } from '../../src/providers/elastic-email/elastic-email.adapter';
import { DeliveryErrorCode, DeliveryProvider, TransportKind, WebhookStatus } from '../../src/providers/provider.enums';
import type { ProviderServer } from '../../src/providers/provider.types';
import { ElasticEmailFake, type EeErrorShape } from '../fakes/elastic-email-fake';
import { FakeHttpServer } from '../fakes/fake-http-server';
import { caught, config, message, serveFake, TIMEOUT_MS } from './helpers';

const KEY = 'EE-LIVE-0123456789ABCDEF';

function server(apiKey = KEY): ProviderServer {
  return { id: randomUUID(), provider: DeliveryProvider.ELASTIC_EMAIL, credentials: { elasticEmail: { apiKey } } };
}

describe('ElasticEmailAdapter against the Elastic Email fake', () => {
  const fake = new ElasticEmailFake();
  let adapter: ElasticEmailAdapter;
  let baseUrl: string;

  beforeAll(() => {
    fake.apiKeys.set(KEY, ['SendHttp', 'ViewSettings', 'ViewWebNotifications', 'ModifyWebNotifications']);
    fake.apiKeys.set('EE-SEND-ONLY', ['SendHttp']);
  });
  // The fake is given its origin; the adapter adds /v4 (it also accepts a base ending in /v4).
  serveFake(fake, (url) => {
    baseUrl = url;
    adapter = new ElasticEmailAdapter(config({ elasticEmailApiUrl: baseUrl }));
  });
  afterEach(() => {
    fake.errorShape = 'Error';
    fake.webhookApi = true;
    fake.webhookWriteFailure = null;
  });

  describe('send', () => {
    it('delivers every field and the Message-ID to /v4/emails/transactional', async () => {
      const msg = message({
        replyTo: 'reply@example.com',
        headers: [{ name: 'X-Campaign', value: 'welcome' }],
        messageId: '<abc.123@mailroute.test>',
      });
      const result = await adapter.send(server(), msg);

      const sent = fake.messages.find((m) => m.subject === msg.subject);
      expect(sent).toMatchObject({
        from: 'Sender <sender@example.com>',
        to: ['to@example.org'],
        subject: msg.subject,
        html: '<p>html</p>',
        text: 'plain',
        replyTo: 'reply@example.com',
        headers: { 'X-Campaign': 'welcome', 'Message-ID': '<abc.123@mailroute.test>' },
      });
      expect(result).toEqual({ transport: TransportKind.API, providerMessageId: sent!.messageId, from: msg.from });
      expect(fake.requestsTo('POST', '/v4/emails/transactional').at(-1)?.headers['x-elasticemail-apikey']).toBe(KEY);
    });

    it('accepts a configured base URL that already ends in /v4', async () => {
      const withV4 = new ElasticEmailAdapter(config({ elasticEmailApiUrl: `${baseUrl}/v4/` }));
      const msg = message();
      await withV4.send(server(), msg);
      expect(fake.messages.some((m) => m.subject === msg.subject)).toBe(true);
    });

    it.each<EeErrorShape>(['Error', 'v2', 'text'])('maps a bad key to AUTH_FAILED (error body shape %s)', async (shape) => {
      fake.errorShape = shape;
      const err = await caught(adapter.send(server('EE-WRONG-KEY-4242'), message()));
      expect(err).toMatchObject({ code: DeliveryErrorCode.AUTH_FAILED, transient: false });
      expect(err.message).not.toContain('EE-WRONG-KEY-4242');
    });

    it.each<EeErrorShape>(['Error', 'text'])('maps an unverified sender domain to SENDER_NOT_VERIFIED (%s)', async (shape) => {
      fake.errorShape = shape;
      const err = await caught(adapter.send(server(), message({ from: 'who@unverified.example' })));
      expect(err).toMatchObject({ code: DeliveryErrorCode.SENDER_NOT_VERIFIED, transient: false, providerStatus: 400 });
    });

    it('maps 429 to THROTTLED with the Retry-After delay', async () => {
      fake.fail({ kind: 'status', status: 429, body: { Error: 'Too many requests' }, headers: { 'retry-after': '7' } });
      const err = await caught(adapter.send(server(), message()));
      expect(err).toMatchObject({ code: DeliveryErrorCode.THROTTLED, transient: true, retryAfterMs: 7000, providerStatus: 429 });
    });

    it('maps 5xx to a transient PROVIDER_ERROR', async () => {
      fake.fail({ kind: 'status', status: 500, body: { Error: 'Internal error' } });
      const err = await caught(adapter.send(server(), message()));
      expect(err).toMatchObject({ code: DeliveryErrorCode.PROVIDER_ERROR, transient: true, providerStatus: 500 });
    });

    it('times out a hanging API within its bound', async () => {
      fake.fail({ kind: 'hang' });
      const started = Date.now();
      const err = await caught(adapter.send(server(), message()));
      expect(err).toMatchObject({ code: DeliveryErrorCode.TIMEOUT, transient: true });
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1500);
    });

    it('never repeats the API key even when the provider echoes it', async () => {
      fake.fail({ kind: 'status', status: 401, body: { Error: `Incorrect apikey ${KEY}` } });
      const err = await caught(adapter.send(server(), message()));
      expect(err.code).toBe(DeliveryErrorCode.AUTH_FAILED);
      expect(JSON.stringify({ ...err.toInit(), stack: err.stack })).not.toContain(KEY);
    });
  });

  describe('verifyCredentials', () => {
    it('accepts a valid key with GET /v4/domains', async () => {
      const before = fake.requestsTo('GET', '/v4/domains').length;
      await expect(adapter.verifyCredentials(server())).resolves.toBeUndefined();
      expect(fake.requestsTo('GET', '/v4/domains')).toHaveLength(before + 1);
    });

    it('accepts a send-only key (403 "Access Denied" means a known key without ViewSettings)', async () => {
      await expect(adapter.verifyCredentials(server('EE-SEND-ONLY'))).resolves.toBeUndefined();
    });

    it('rejects a bad key with AUTH_FAILED', async () => {
      const err = await caught(adapter.verifyCredentials(server('EE-NOPE')));
      expect(err).toMatchObject({ code: DeliveryErrorCode.AUTH_FAILED, transient: false, providerStatus: 401 });
    });

    it('reports CONNECTION_FAILED when nothing listens', async () => {
      const closed = new FakeHttpServer();
      const url = await closed.start();
      await closed.stop();
      const err = await caught(new ElasticEmailAdapter(config({ elasticEmailApiUrl: url })).verifyCredentials(server()));
      expect(err).toMatchObject({ code: DeliveryErrorCode.CONNECTION_FAILED, transient: true });
    });
  });

  describe('checkSender', () => {
    it('says verified for a verified domain', async () => {
      await expect(adapter.checkSender(server(), 'Someone <a@Example.com>')).resolves.toEqual({ verified: true });
      expect(fake.requests.at(-1)?.path).toBe('/v4/domains/example.com');
    });

    it('explains a pending domain for a person', async () => {
      fake.domains.set('pending.example', 'pending');
      const check = await adapter.checkSender(server(), 'a@pending.example');
      expect(check).toEqual({ verified: false, reason: expect.stringMatching(/pending\.example is not verified.*SPF and DKIM/) });
    });

    it('explains a domain that was never added', async () => {
      const check = await adapter.checkSender(server(), 'a@nowhere.example');
      expect(check).toEqual({ verified: false, reason: expect.stringMatching(/nowhere\.example is not added/) });
    });

    it('throws AUTH_FAILED for a bad key instead of answering', async () => {
      const err = await caught(adapter.checkSender(server('EE-BAD'), 'a@example.com'));
      expect(err.code).toBe(DeliveryErrorCode.AUTH_FAILED);
    });
  });

  describe('webhooks', () => {
    const base = () => `https://mailroute.example/webhooks/elasticemail/${randomUUID()}`;
    const hooksAt = (url: string) => [...fake.webhooks.values()].filter((w) => w.URL.split('?')[0] === url);

    it('registers through /v4/webhook with a secret in the URL and our notification flags', async () => {
      const url = base();
      const result = await adapter.registerWebhooks(server(), url);

      expect(result).toMatchObject({ status: WebhookStatus.REGISTERED, events: ['Sent', 'Error', 'AbuseReport'], error: null });
      expect(result.url).toBe(`${url}?secret=${result.state?.secret}`);
      expect(result.state?.secret).toMatch(/^[A-Za-z0-9_-]{32}$/);
      const [hook] = hooksAt(url);
      expect(hook).toMatchObject({
        WebhookID: result.state?.webhookId,
        URL: result.url,
        NotificationForSent: true,
        NotificationForError: true,
        NotificationForAbuseReport: true,
        NotificationForOpened: false,
        NotificationForClicked: false,
      });
    });

    it('is idempotent: a retry without stored state updates our webhook (new secret) instead of adding one', async () => {
      const url = base();
      const first = await adapter.registerWebhooks(server(), url);
      const second = await adapter.registerWebhooks(server(), url);
      expect(second.state?.webhookId).toBe(first.state?.webhookId);
      expect(hooksAt(url)).toHaveLength(1);
      expect(hooksAt(url)[0].URL).toBe(second.url);
    });

    it('reuses the stored secret: a retry leaves the URL at Elastic Email (and its secret) as it was', async () => {
      const url = base();
      const first = await adapter.registerWebhooks(server(), url);
      const second = await adapter.registerWebhooks(server(), url, first.state);
      expect(second).toMatchObject({ status: WebhookStatus.REGISTERED, url: first.url, state: first.state });
      expect(hooksAt(url).map((w) => w.URL)).toEqual([first.url]);
    });

    it('a failed update returns the stored secret, never a new one, and its error carries no secret', async () => {
      const url = base();
      const first = await adapter.registerWebhooks(server(), url);
      const secret = first.state!.secret;
      fake.webhookWriteFailure = { status: 500, body: { Error: `Could not save ${first.url}` } };

      const failed = await adapter.registerWebhooks(server(), url, first.state);
      expect(failed).toMatchObject({ status: WebhookStatus.FAILED, url: first.url, state: { secret } });
      expect(failed.error).toMatch(/Elastic Email had a server error \(500: Could not save .*secret=\[redacted\]\)/);
      expect(failed.error).not.toContain(secret);
      expect(hooksAt(url).map((w) => w.URL)).toEqual([first.url]);
    });

    it('keeps an echoed secret out of the error even when the provider text is cut short inside it', async () => {
      const url = base();
      const first = await adapter.registerWebhooks(server(), url);
      const secret = first.state!.secret;
      // The classifier keeps the first 300 characters of the provider's text: cut 10 characters into the secret.
      const pad = 'x'.repeat(300 - first.url!.indexOf(secret) - 10);
      fake.webhookWriteFailure = { status: 500, body: { Error: `${pad}${first.url}` } };

      const failed = await adapter.registerWebhooks(server(), url, first.state);
      expect(failed.status).toBe(WebhookStatus.FAILED);
      expect(failed.error).not.toContain(secret.slice(0, 10));
      expect(failed.error).toContain('secret=[redacted]');
    });

    it('NOT_SUPPORTED with a stored secret: the URL the customer pasted stays the one to paste', async () => {
      fake.webhookApi = false;
      const url = base();
      const first = await adapter.registerWebhooks(server(), url);
      const again = await adapter.registerWebhooks(server(), url, first.state);
      expect(again).toMatchObject({ status: WebhookStatus.NOT_SUPPORTED, url: first.url, state: { secret: first.state?.secret } });
      expect(again.error).toContain(first.url!);
    });

    it('removes only our webhook', async () => {
      const url = base();
      const registration = await adapter.registerWebhooks(server(), url);
      const theirs = { ...hooksAt(url)[0], WebhookID: `theirs-${randomUUID()}`, URL: 'https://crm.example/ee' };
      fake.webhooks.set(theirs.WebhookID, theirs);

      await adapter.removeWebhooks(server(), registration);
      expect(hooksAt(url)).toHaveLength(0);
      expect(fake.webhooks.get(theirs.WebhookID)).toEqual(theirs);
      await expect(adapter.removeWebhooks(server(), registration)).resolves.toBeUndefined();
    });

    it('answers NOT_SUPPORTED with the exact manual step when the account has no webhook API', async () => {
      fake.webhookApi = false;
      const url = base();
      const result = await adapter.registerWebhooks(server(), url);
      expect(result.status).toBe(WebhookStatus.NOT_SUPPORTED);
      expect(result.url).toBe(`${url}?secret=${result.state?.secret}`);
      expect(result.error).toContain('Settings → Notifications → HTTP Web Notification');
      expect(result.error).toContain(result.url!);
      // Nothing to remove at the provider, and removal does not fail.
      await expect(adapter.removeWebhooks(server(), result)).resolves.toBeUndefined();
    });

    it('answers NOT_SUPPORTED naming the access level when the key may not manage notifications', async () => {
      const result = await adapter.registerWebhooks(server('EE-SEND-ONLY'), base());
      expect(result.status).toBe(WebhookStatus.NOT_SUPPORTED);
      expect(result.error).toMatch(/ModifyWebNotifications/);
    });

    it('returns FAILED for a bad key, without the key', async () => {
      const result = await adapter.registerWebhooks(server('EE-BAD-HOOK-KEY'), base());
      expect(result.status).toBe(WebhookStatus.FAILED);
      expect(result.error).not.toContain('EE-BAD-HOOK-KEY');
    });
  });

  describe('parseWebhook', () => {
    const state = { secret: 'the-secret-value' };
    const query = (params: Record<string, string>, secret = state.secret) =>
      `/webhooks/elasticemail/srv?${new URLSearchParams({ ...params, secret }).toString()}`;
    const notification = {
      date: '2024-01-02 10:11:12',
      from: 'sender@example.com',
      to: 'to@example.org',
      subject: 'Hello',
      status: 'Error',
      category: 'NoMailbox',
      channel: 'welcome',
      transaction: '6a1c-tx',
      messageid: 'GruPGipsdsy31TIhv3CArg2',
    };
    const get = (url: string) => ({ headers: {}, rawBody: Buffer.alloc(0), url });

    it('reads a classic GET notification into a hard bounce', async () => {
      const events = await adapter.parseWebhook(server(), get(query(notification)), state);
      expect(events).toEqual([
        {
          kind: 'HARD_BOUNCE',
          eventId: expect.stringMatching(/^[0-9a-f]{64}$/),
          providerMessageId: 'GruPGipsdsy31TIhv3CArg2',
          recipient: 'to@example.org',
          occurredAt: new Date('2024-01-02T10:11:12Z'),
          detail: 'NoMailbox',
        },
      ]);
    });

    it.each([
      [{ status: 'Sent' }, 'DELIVERED'],
      [{ status: 'AbuseReport' }, 'COMPLAINT'],
      [{ status: 'Error', category: 'Throttled' }, 'SOFT_BOUNCE'],
      [{ status: 'Error', category: 'Spam' }, 'REJECTED'],
    ])('maps %j to %s', async (fields, kind) => {
      const [event] = await adapter.parseWebhook(server(), get(query({ ...notification, ...fields })), state);
      expect(event.kind).toBe(kind);
    });

    it('ignores engagement notifications', async () => {
      await expect(adapter.parseWebhook(server(), get(query({ ...notification, status: 'Opened' })), state)).resolves.toEqual([]);
    });

    it('gives the same notification the same event id (dedupe) and a different one another', async () => {
      const [a] = await adapter.parseWebhook(server(), get(query(notification)), state);
      const [b] = await adapter.parseWebhook(server(), get(query(notification)), state);
      const [c] = await adapter.parseWebhook(server(), get(query({ ...notification, status: 'Sent' })), state);
      expect(a.eventId).toBe(b.eventId);
      expect(c.eventId).not.toBe(a.eventId);
    });

    it('accepts POSTed JSON and form bodies too (the new webhook format is unconfirmed)', async () => {
      const url = `/webhooks/elasticemail/srv?secret=${state.secret}`;
      const json = await adapter.parseWebhook(server(), { headers: {}, rawBody: Buffer.from(JSON.stringify(notification)), url }, state);
      const form = await adapter.parseWebhook(
        server(),
        { headers: {}, rawBody: Buffer.from(new URLSearchParams(notification).toString()), url },
        state,
      );
      expect(json.map((e) => e.kind)).toEqual(['HARD_BOUNCE']);
      expect(form).toEqual(json);
    });

    it.each([
      ['a wrong secret', query(notification, 'not-the-secret')],
      ['no secret', `/webhooks/elasticemail/srv?${new URLSearchParams(notification).toString()}`],
    ])('refuses %s with AUTH_FAILED', async (_name, url) => {
      const err = await caught(adapter.parseWebhook(server(), get(url), state));
      expect(err.code).toBe(DeliveryErrorCode.AUTH_FAILED);
    });

    // The dashboard checks the URL with a bare GET and wants a 200 (PROVIDERS.md §5.4).
    it('reads nothing from a notification without a status (the URL check), but refuses a JSON body that does not parse with MESSAGE_REJECTED', async () => {
      await expect(adapter.parseWebhook(server(), get(query({})), state)).resolves.toEqual([]);
      await expect(adapter.parseWebhook(server(), get(query({ to: 'x@example.org' })), state)).resolves.toEqual([]);
      const broken = { headers: { 'content-type': 'application/json' }, rawBody: Buffer.from('{"status":"Sent",'), url: query({}) };
      const err = await caught(adapter.parseWebhook(server(), broken, state));
      expect(err.code).toBe(DeliveryErrorCode.MESSAGE_REJECTED);
    });
  });
});
