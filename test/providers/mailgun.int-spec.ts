import { createServer } from 'node:net';
import { DeliveryError } from '../../src/providers/delivery-error';
import { MailgunAdapter } from '../../src/providers/mailgun/mailgun.adapter';
import { DeliveryErrorCode, DeliveryProvider, TransportKind } from '../../src/providers/provider.enums';
import type { MailgunCredentials, ProviderServer } from '../../src/providers/provider.types';
import type { ProvidersConfig } from '../../src/providers/providers.config';
import { MailgunFake } from '../fakes/mailgun-fake';

const KEY = 'key-test';
const SECRET_KEY = 'SG.secret-key-XYZ';
const DOMAIN = 'mg.shop.test';
const TIMEOUT_MS = 500;

describe('MailgunAdapter against the Mailgun fake', () => {
  const fake = new MailgunFake({
    apiKeys: [KEY],
    domains: { [DOMAIN]: 'active', 'mg.waiting.test': 'unverified' },
  });
  let adapter: MailgunAdapter;

  const server = (mailgun: Partial<MailgunCredentials> = {}): ProviderServer => ({
    id: 'srv-mg',
    provider: DeliveryProvider.MAILGUN,
    credentials: { mailgun: { apiKey: KEY, domain: DOMAIN, region: 'US', ...mailgun } },
  });
  const simple = { from: `orders@${DOMAIN}`, to: 'alice@example.org', subject: 's', text: 't' };

  beforeAll(async () => {
    const url = await fake.start();
    adapter = new MailgunAdapter(config({ mailgunApiUrl: url }));
  });
  afterAll(() => fake.stop());
  afterEach(() => fake.fail({ kind: 'none' }));

  it('sends from, to, subject, html, text, reply-to, custom headers and Message-Id as a multipart form', async () => {
    const result = await adapter.send(server(), {
      from: `Shop <orders@${DOMAIN}>`,
      to: 'alice@example.org',
      replyTo: 'help@shop.test',
      subject: 'Your order',
      html: '<p>Thanks</p>',
      text: 'Thanks',
      headers: [{ name: 'X-Campaign', value: 'welcome' }],
      messageId: '<abc.123@mailroute.test>',
    });

    expect(result.transport).toBe(TransportKind.API);
    expect(result.from).toBe(`Shop <orders@${DOMAIN}>`);
    expect(result.providerMessageId).not.toMatch(/[<>]/);
    expect(fake.accepted.find((m) => m.providerMessageId === `<${result.providerMessageId}>`)).toEqual({
      providerMessageId: `<${result.providerMessageId}>`,
      domain: DOMAIN,
      from: `Shop <orders@${DOMAIN}>`,
      to: ['alice@example.org'],
      subject: 'Your order',
      html: '<p>Thanks</p>',
      text: 'Thanks',
      replyTo: 'help@shop.test',
      headers: { 'Reply-To': 'help@shop.test', 'X-Campaign': 'welcome', 'Message-Id': '<abc.123@mailroute.test>' },
    });
    const req = fake.requests.find((r) => r.path === `/v3/${DOMAIN}/messages`);
    expect(String(req?.headers['content-type'])).toMatch(/^multipart\/form-data; boundary=/);
    expect(req?.headers.authorization).toBe(`Basic ${Buffer.from(`api:${KEY}`).toString('base64')}`);
  });

  it('verifies working credentials against the server domain', async () => {
    const before = fake.requests.length;
    await expect(adapter.verifyCredentials(server())).resolves.toBeUndefined();
    expect(fake.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual([`GET /v4/domains/${DOMAIN}`]);
  });

  it('classifies a bad key (401 "Forbidden") as permanent AUTH_FAILED and never leaks the key', async () => {
    const bad = server({ apiKey: SECRET_KEY });
    for (const call of [() => adapter.verifyCredentials(bad), () => adapter.send(bad, simple), () => adapter.checkSender(bad, `a@${DOMAIN}`)]) {
      const err = await caught(call());
      expect(err.code).toBe(DeliveryErrorCode.AUTH_FAILED);
      expect(err.transient).toBe(false);
      expect(err.providerStatus).toBe(401);
      expect(err.message).toMatch(/Forbidden/);
      expect(err.message).not.toContain(SECRET_KEY);
      expect(JSON.stringify(err)).not.toContain(SECRET_KEY);
    }
  });

  it('checkSender: an address on the active server domain is verified', async () => {
    await expect(adapter.checkSender(server(), `Shop <orders@${DOMAIN}>`)).resolves.toEqual({ verified: true });
  });

  it('checkSender: another domain, an unverified domain or a missing domain is verified:false with a reason', async () => {
    await expect(adapter.checkSender(server(), 'x@other.test')).resolves.toEqual({
      verified: false,
      reason: `x@other.test is not on this server's Mailgun domain ${DOMAIN}`,
    });
    await expect(adapter.checkSender(server({ domain: 'mg.waiting.test' }), 'x@mg.waiting.test')).resolves.toEqual({
      verified: false,
      reason: 'domain mg.waiting.test is unverified at Mailgun',
    });
    await expect(adapter.checkSender(server({ domain: 'mg.gone.test' }), 'x@mg.gone.test')).resolves.toEqual({
      verified: false,
      reason: 'domain mg.gone.test does not exist in this Mailgun account',
    });
  });

  it('a send on an unverified domain is SENDER_NOT_VERIFIED (permanent)', async () => {
    const err = await caught(adapter.send(server({ domain: 'mg.waiting.test' }), { ...simple, from: 'x@mg.waiting.test' }));
    expect(err.code).toBe(DeliveryErrorCode.SENDER_NOT_VERIFIED);
    expect(err.transient).toBe(false);
    expect(err.providerStatus).toBe(403);
    expect(err.message).toMatch(/not allowed to send/);
  });

  it('429 is transient THROTTLED (mailgun.js drops headers, so no retryAfterMs)', async () => {
    fake.fail(MailgunFake.throttled(9));
    const err = await caught(adapter.send(server(), simple));
    expect(err.code).toBe(DeliveryErrorCode.THROTTLED);
    expect(err.transient).toBe(true);
    expect(err.providerStatus).toBe(429);
    expect(err.retryAfterMs).toBeUndefined();
  });

  it('420 "limit exceeded, try again after <date>" is QUOTA_EXCEEDED with retryAfterMs from the date', async () => {
    const until = new Date(Date.now() + 3_600_000);
    fake.fail(MailgunFake.limitReached(DOMAIN, until));
    const err = await caught(adapter.send(server(), simple));
    expect(err.code).toBe(DeliveryErrorCode.QUOTA_EXCEEDED);
    expect(err.transient).toBe(true);
    expect(err.providerStatus).toBe(420);
    expect(err.retryAfterMs).toBeGreaterThan(3_500_000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(3_600_000);
  });

  it('5xx is transient PROVIDER_ERROR', async () => {
    fake.fail(MailgunFake.serverError(502));
    const err = await caught(adapter.verifyCredentials(server()));
    expect(err.code).toBe(DeliveryErrorCode.PROVIDER_ERROR);
    expect(err.transient).toBe(true);
    expect(err.providerStatus).toBe(502);
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

  it('a refused connection is transient CONNECTION_FAILED', async () => {
    const closed = new MailgunAdapter(config({ mailgunApiUrl: `http://127.0.0.1:${await closedPort()}` }));
    const err = await caught(closed.verifyCredentials(server()));
    expect(err.code).toBe(DeliveryErrorCode.CONNECTION_FAILED);
    expect(err.transient).toBe(true);
    expect(err.providerStatus).toBeUndefined();
  });
});

function config(overrides: Partial<ProvidersConfig>): ProvidersConfig {
  return {
    allowPrivate: true,
    httpTimeoutMs: TIMEOUT_MS,
    smtpConnectionTimeoutMs: 1000,
    smtpGreetingTimeoutMs: 1000,
    smtpSocketTimeoutMs: 1000,
    ...overrides,
  };
}

async function caught(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DeliveryError) return err;
    throw new Error(`expected a DeliveryError, got ${String(err)}`);
  }
  throw new Error('expected the call to fail');
}

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const address = srv.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
