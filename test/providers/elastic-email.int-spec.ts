import { randomUUID } from 'node:crypto';
import { DeliveryError } from '../../src/providers/delivery-error';
import { ElasticEmailAdapter } from '../../src/providers/elastic-email/elastic-email.adapter';
import { DeliveryErrorCode, DeliveryProvider, TransportKind } from '../../src/providers/provider.enums';
import type { OutgoingMessage, ProviderServer } from '../../src/providers/provider.types';
import type { ProvidersConfig } from '../../src/providers/providers.config';
import { ElasticEmailFake, EeErrorShape } from '../fakes/elastic-email-fake';
import { FakeHttpServer } from '../fakes/fake-http-server';

const KEY = 'EE-LIVE-0123456789ABCDEF';
const TIMEOUT_MS = 500;

function configFor(url: string): ProvidersConfig {
  return {
    elasticEmailApiUrl: url,
    allowPrivate: true,
    httpTimeoutMs: TIMEOUT_MS,
    smtpConnectionTimeoutMs: 1000,
    smtpGreetingTimeoutMs: 1000,
    smtpSocketTimeoutMs: 1000,
  };
}

function server(apiKey = KEY): ProviderServer {
  return { id: randomUUID(), provider: DeliveryProvider.ELASTIC_EMAIL, credentials: { elasticEmail: { apiKey } } };
}

function message(overrides: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    from: 'Sender <sender@example.com>',
    to: 'to@example.org',
    subject: `hello ${randomUUID()}`,
    html: '<p>html</p>',
    text: 'plain',
    ...overrides,
  };
}

async function failure(fn: () => Promise<unknown>): Promise<DeliveryError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DeliveryError);
    return err as DeliveryError;
  }
  throw new Error('expected a DeliveryError, got success');
}

describe('ElasticEmailAdapter against the Elastic Email fake', () => {
  const fake = new ElasticEmailFake();
  let adapter: ElasticEmailAdapter;
  let baseUrl: string;

  beforeAll(async () => {
    fake.apiKeys.set(KEY, ['SendHttp', 'ViewSettings', 'ViewWebNotifications', 'ModifyWebNotifications']);
    fake.apiKeys.set('EE-SEND-ONLY', ['SendHttp']);
    // The fake is given its origin; the adapter adds /v4 (it also accepts a base ending in /v4).
    baseUrl = await fake.start();
    adapter = new ElasticEmailAdapter(configFor(baseUrl));
  });
  afterAll(() => fake.stop());
  afterEach(() => {
    fake.fail({ kind: 'none' });
    fake.errorShape = 'Error';
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
      const withV4 = new ElasticEmailAdapter(configFor(`${baseUrl}/v4/`));
      const msg = message();
      await withV4.send(server(), msg);
      expect(fake.messages.some((m) => m.subject === msg.subject)).toBe(true);
    });

    it.each<EeErrorShape>(['Error', 'v2', 'text'])('maps a bad key to AUTH_FAILED (error body shape %s)', async (shape) => {
      fake.errorShape = shape;
      const err = await failure(() => adapter.send(server('EE-WRONG-KEY-4242'), message()));
      expect(err).toMatchObject({ code: DeliveryErrorCode.AUTH_FAILED, transient: false });
      expect(err.message).not.toContain('EE-WRONG-KEY-4242');
    });

    it.each<EeErrorShape>(['Error', 'text'])('maps an unverified sender domain to SENDER_NOT_VERIFIED (%s)', async (shape) => {
      fake.errorShape = shape;
      const err = await failure(() => adapter.send(server(), message({ from: 'who@unverified.example' })));
      expect(err).toMatchObject({ code: DeliveryErrorCode.SENDER_NOT_VERIFIED, transient: false, providerStatus: 400 });
    });

    it('maps 429 to THROTTLED with the Retry-After delay', async () => {
      fake.fail({ kind: 'status', status: 429, body: { Error: 'Too many requests' }, headers: { 'retry-after': '7' } });
      const err = await failure(() => adapter.send(server(), message()));
      expect(err).toMatchObject({ code: DeliveryErrorCode.THROTTLED, transient: true, retryAfterMs: 7000, providerStatus: 429 });
    });

    it('maps 5xx to a transient PROVIDER_ERROR', async () => {
      fake.fail({ kind: 'status', status: 500, body: { Error: 'Internal error' } });
      const err = await failure(() => adapter.send(server(), message()));
      expect(err).toMatchObject({ code: DeliveryErrorCode.PROVIDER_ERROR, transient: true, providerStatus: 500 });
    });

    it('times out a hanging API within its bound', async () => {
      fake.fail({ kind: 'hang' });
      const started = Date.now();
      const err = await failure(() => adapter.send(server(), message()));
      expect(err).toMatchObject({ code: DeliveryErrorCode.TIMEOUT, transient: true });
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1500);
    });

    it('never repeats the API key even when the provider echoes it', async () => {
      fake.fail({ kind: 'status', status: 401, body: { Error: `Incorrect apikey ${KEY}` } });
      const err = await failure(() => adapter.send(server(), message()));
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
      const err = await failure(() => adapter.verifyCredentials(server('EE-NOPE')));
      expect(err).toMatchObject({ code: DeliveryErrorCode.AUTH_FAILED, transient: false, providerStatus: 401 });
    });

    it('reports CONNECTION_FAILED when nothing listens', async () => {
      const closed = new FakeHttpServer();
      const url = await closed.start();
      await closed.stop();
      const err = await failure(() => new ElasticEmailAdapter(configFor(url)).verifyCredentials(server()));
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
      const err = await failure(() => adapter.checkSender(server('EE-BAD'), 'a@example.com'));
      expect(err.code).toBe(DeliveryErrorCode.AUTH_FAILED);
    });
  });
});

