import { DeliveryErrorCode, DeliveryProvider, TransportKind, WebhookStatus } from '../../src/providers/provider.enums';
import type { ProviderServer } from '../../src/providers/provider.types';
import { SendGridAdapter, sendGridBaseUrl } from '../../src/providers/sendgrid/sendgrid.adapter';
import { SendGridFake } from '../fakes/sendgrid-fake';
import { caught, closedPort, config, serveFake, TIMEOUT_MS } from './helpers';

const KEY = 'SG.test-key';
const SECRET_KEY = 'SG.secret-key-XYZ';

describe('SendGridAdapter against the SendGrid fake', () => {
  const fake = new SendGridFake({
    apiKeys: [KEY],
    verifiedSenders: [
      { email: 'orders@shop.test', verified: true },
      { email: 'pending@shop.test', verified: false },
    ],
    authenticatedDomains: [
      { domain: 'brand.test', valid: true },
      { domain: 'waiting.test', valid: false },
    ],
  });
  let adapter: SendGridAdapter;

  const server = (apiKey = KEY): ProviderServer => ({
    id: 'srv-1',
    provider: DeliveryProvider.SENDGRID,
    credentials: { sendgrid: { apiKey, region: 'GLOBAL' } },
  });

  serveFake(fake, (url) => {
    adapter = new SendGridAdapter(config({ sendgridApiUrl: url + '/' }));
  });

  it('sends from, to, subject, html, text, reply-to, custom headers and Message-ID', async () => {
    const result = await adapter.send(server(), {
      from: 'Shop <orders@shop.test>',
      to: 'alice@example.org',
      replyTo: 'help@shop.test',
      subject: 'Your order',
      html: '<p>Thanks</p>',
      text: 'Thanks',
      headers: [{ name: 'X-Campaign', value: 'welcome' }],
      messageId: '<abc.123@mailroute.test>',
    });

    const got = fake.accepted.find((m) => m.providerMessageId === result.providerMessageId);
    expect(result.transport).toBe(TransportKind.API);
    expect(result.from).toBe('Shop <orders@shop.test>');
    expect(got).toEqual({
      providerMessageId: result.providerMessageId,
      from: 'Shop <orders@shop.test>',
      to: ['alice@example.org'],
      subject: 'Your order',
      html: '<p>Thanks</p>',
      text: 'Thanks',
      replyTo: 'help@shop.test',
      headers: { 'X-Campaign': 'welcome', 'Message-ID': '<abc.123@mailroute.test>' },
    });
    const req = fake.requests.find((r) => r.path === '/v3/mail/send');
    expect(req?.headers.authorization).toBe(`Bearer ${KEY}`);
  });

  it('verifies a working key that can send', async () => {
    await expect(adapter.verifyCredentials(server())).resolves.toBeUndefined();
  });

  it('reports a key without mail.send as AUTH_FAILED', async () => {
    const before = fake.scopes;
    fake.scopes = ['alerts.read'];
    try {
      const err = await caught(adapter.verifyCredentials(server()));
      expect(err.code).toBe(DeliveryErrorCode.AUTH_FAILED);
      expect(err.message).toMatch(/Mail Send/);
    } finally {
      fake.scopes = before;
    }
  });

  it('classifies a bad key as permanent AUTH_FAILED and never leaks the key', async () => {
    for (const call of [
      () => adapter.verifyCredentials(server(SECRET_KEY)),
      () =>
        adapter.send(server(SECRET_KEY), { from: 'orders@shop.test', to: 'a@example.org', subject: 's', text: 't' }),
      () => adapter.checkSender(server(SECRET_KEY), 'orders@shop.test'),
    ]) {
      const err = await caught(call());
      expect(err.code).toBe(DeliveryErrorCode.AUTH_FAILED);
      expect(err.transient).toBe(false);
      expect(err.providerStatus).toBe(401);
      expect(err.message).not.toContain(SECRET_KEY);
      expect(JSON.stringify(err)).not.toContain(SECRET_KEY);
      expect(JSON.stringify(err)).not.toContain('secret-key-XYZ');
    }
  });

  it('checkSender: a verified single sender or an authenticated domain is verified', async () => {
    await expect(adapter.checkSender(server(), 'Shop <orders@shop.test>')).resolves.toEqual({ verified: true });
    await expect(adapter.checkSender(server(), 'anyone@brand.test')).resolves.toEqual({ verified: true });
  });

  it('checkSender: a key that may not read authenticated domains (403) is still answered by its verified single senders', async () => {
    const scopes = fake.scopes;
    fake.scopes = ['mail.send', 'sender_verification_eligible'];
    try {
      await expect(adapter.checkSender(server(), 'Shop <orders@shop.test>')).resolves.toEqual({ verified: true });
      // Not known to be unauthenticated: the reason says what the key may not read.
      await expect(adapter.checkSender(server(), 'anyone@brand.test')).resolves.toEqual({
        verified: false,
        reason: expect.stringContaining('may not read Domain Authentication (it needs the whitelabel.read scope)') as unknown,
      });
    } finally {
      fake.scopes = scopes;
    }
  });

  it('checkSender: an authenticated domain settles it in one request, without paging the single senders', async () => {
    const before = fake.requests.length;
    await expect(adapter.checkSender(server(), 'anyone@brand.test')).resolves.toEqual({ verified: true });
    expect(fake.requests.slice(before).map((r) => r.path)).toEqual(['/v3/whitelabel/domains']);
    // An address whose domain is not authenticated falls back to the single senders.
    const next = fake.requests.length;
    await expect(adapter.checkSender(server(), 'orders@shop.test')).resolves.toEqual({ verified: true });
    expect(fake.requests.slice(next).map((r) => r.path)).toEqual(['/v3/whitelabel/domains', '/v3/verified_senders']);
    // So does a domain pending verification: its verified single sender is verified.
    fake.verifiedSenders.push({ email: 'ops@waiting.test', verified: true }, { email: 'new@waiting.test', verified: false });
    try {
      await expect(adapter.checkSender(server(), 'ops@waiting.test')).resolves.toEqual({ verified: true });
      // Neither verified: the pending domain is the reason given, as it covers every address.
      await expect(adapter.checkSender(server(), 'new@waiting.test')).resolves.toEqual({
        verified: false,
        reason: 'domain waiting.test is pending verification at SendGrid',
      });
    } finally {
      fake.verifiedSenders.splice(-2);
    }
  });

  it('checkSender: finds a verified single sender beyond the first page of the account\'s senders', async () => {
    const before = fake.verifiedSenders.length;
    for (let i = 0; i < 230; i++) fake.verifiedSenders.push({ email: `sender-${i}@many.test`, verified: i === 220 });
    try {
      await expect(adapter.checkSender(server(), 'sender-220@many.test')).resolves.toEqual({ verified: true });
      await expect(adapter.checkSender(server(), 'sender-221@many.test')).resolves.toMatchObject({ verified: false });
      const pages = fake.requests.filter((r) => r.path === '/v3/verified_senders').slice(-3);
      expect(pages.map((r) => r.query.get('lastSeenID'))).toEqual([null, '100', '200']);
    } finally {
      fake.verifiedSenders.splice(before);
    }
  });

  it('checkSender: unverified senders come back verified:false with a reason, not an error', async () => {
    const unknown = await adapter.checkSender(server(), 'nobody@else.test');
    expect(unknown.verified).toBe(false);
    expect(unknown.reason).toContain('nobody@else.test');
    const pendingDomain = await adapter.checkSender(server(), 'x@waiting.test');
    expect(pendingDomain).toEqual({
      verified: false,
      reason: 'domain waiting.test is pending verification at SendGrid',
    });
    const pendingSender = await adapter.checkSender(server(), 'pending@shop.test');
    expect(pendingSender.verified).toBe(false);
    expect(pendingSender.reason).toMatch(/not been confirmed/);
  });

  it('a send from an unverified sender is SENDER_NOT_VERIFIED (permanent)', async () => {
    const err = await caught(
      adapter.send(server(), { from: 'nobody@else.test', to: 'a@example.org', subject: 's', text: 't' }),
    );
    expect(err.code).toBe(DeliveryErrorCode.SENDER_NOT_VERIFIED);
    expect(err.transient).toBe(false);
    expect(err.providerStatus).toBe(403);
    expect(err.message).toMatch(/verified Sender Identity/);
  });

  it('429 is transient THROTTLED with retryAfterMs from Retry-After', async () => {
    fake.fail(SendGridFake.throttled(7));
    const err = await caught(
      adapter.send(server(), { from: 'orders@shop.test', to: 'a@example.org', subject: 's', text: 't' }),
    );
    expect(err.code).toBe(DeliveryErrorCode.THROTTLED);
    expect(err.transient).toBe(true);
    expect(err.providerStatus).toBe(429);
    expect(err.retryAfterMs).toBe(7000);
  });

  it('5xx is transient PROVIDER_ERROR', async () => {
    fake.fail(SendGridFake.serverError(503));
    const err = await caught(adapter.verifyCredentials(server()));
    expect(err.code).toBe(DeliveryErrorCode.PROVIDER_ERROR);
    expect(err.transient).toBe(true);
    expect(err.providerStatus).toBe(503);
  });

  it("sends the message's headers in the mail only, never as headers of the API request (where On-Behalf-Of or Authorization are instructions)", async () => {
    const result = await adapter.send(server(), {
      from: 'orders@shop.test',
      to: 'a@example.org',
      subject: 's',
      text: 't',
      headers: [
        { name: 'X-Campaign', value: 'welcome' },
        { name: 'On-Behalf-Of', value: 'another-subuser' },
        { name: 'Authorization', value: 'Bearer SG.someone-else' },
      ],
    });
    const req = fake.requests.filter((r) => r.path === '/v3/mail/send').at(-1);
    expect(req?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(req?.headers['on-behalf-of']).toBeUndefined();
    expect(req?.headers['x-campaign']).toBeUndefined();
    expect(fake.accepted.find((m) => m.providerMessageId === result.providerMessageId)?.headers).toMatchObject({ 'X-Campaign': 'welcome' });
  });

  it('a hung API is a transient TIMEOUT within about httpTimeoutMs', async () => {
    fake.fail({ kind: 'hang' });
    const started = Date.now();
    const err = await caught(
      adapter.send(server(), { from: 'orders@shop.test', to: 'a@example.org', subject: 's', text: 't' }),
    );
    const elapsed = Date.now() - started;
    expect(err.code).toBe(DeliveryErrorCode.TIMEOUT);
    expect(err.transient).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 1500);
  });

  it('a refused connection is transient CONNECTION_FAILED', async () => {
    const closed = new SendGridAdapter(config({ sendgridApiUrl: `http://127.0.0.1:${await closedPort()}/` }));
    const err = await caught(closed.verifyCredentials(server()));
    expect(err.code).toBe(DeliveryErrorCode.CONNECTION_FAILED);
    expect(err.transient).toBe(true);
  });
});

describe('SendGridAdapter webhooks against the SendGrid fake', () => {
  const fake = new SendGridFake({ apiKeys: [KEY] });
  let adapter: SendGridAdapter;
  const server: ProviderServer = {
    id: 'srv-wh',
    provider: DeliveryProvider.SENDGRID,
    credentials: { sendgrid: { apiKey: KEY } },
  };
  const URL = 'https://mailroute.test/webhooks/sendgrid/srv-wh';

  beforeAll(async () => {
    adapter = new SendGridAdapter(config({ sendgridApiUrl: (await fake.start()) + '/' }));
  });
  afterAll(() => fake.stop());

  it('registers a new signed webhook of its own, idempotently, and removes only it', async () => {
    const customer = fake.addWebhook('https://customer.example/hook');
    const first = await adapter.registerWebhooks(server, URL);
    expect(first).toMatchObject({ status: WebhookStatus.REGISTERED, url: URL, error: null });
    expect(first.events).toEqual(['bounce', 'dropped', 'spamreport', 'delivered', 'deferred']);
    const ours = fake.webhooks.get(first.state?.webhookId ?? '');
    expect(ours?.url).toBe(URL);
    expect(ours?.settings).toMatchObject({
      bounce: true,
      dropped: true,
      spam_report: true,
      delivered: true,
      deferred: true,
      open: false,
    });
    expect(first.state?.publicKey).toBe(ours?.publicKey);
    expect(fake.requests.some((r) => r.method === 'POST' && r.path === '/v3/user/webhooks/event/settings')).toBe(true);

    const posts = () => fake.requests.filter((r) => r.method === 'POST').length;
    const postsBefore = posts();
    const again = await adapter.registerWebhooks(server, URL);
    expect(again.status).toBe(WebhookStatus.REGISTERED);
    expect(again.state?.webhookId).toBe(first.state?.webhookId);
    expect(posts()).toBe(postsBefore);
    expect([...fake.webhooks.values()].filter((w) => w.url === URL)).toHaveLength(1);

    await adapter.removeWebhooks(server, again);
    expect(fake.webhooks.has(first.state?.webhookId ?? '')).toBe(false);
    expect(fake.webhooks.get(customer.id)).toEqual(customer);
    await expect(adapter.removeWebhooks(server, again)).resolves.toBeUndefined();
  });

  it("two concurrent registrations end with one webhook (the loser adopts the winner's id)", async () => {
    const url = URL + '/race';
    const postsBefore = fake.requests.filter((r) => r.method === 'POST').length;
    const [a, b] = await Promise.all([adapter.registerWebhooks(server, url), adapter.registerWebhooks(server, url)]);
    expect(a.status).toBe(WebhookStatus.REGISTERED);
    expect(b.status).toBe(WebhookStatus.REGISTERED);
    expect(a.state?.webhookId).toBe(b.state?.webhookId);
    expect([...fake.webhooks.values()].filter((w) => w.url === url)).toHaveLength(1);
    // Both looked up before either created, so the second POST met SendGrid's "already exists".
    expect(fake.requests.filter((r) => r.method === 'POST').length - postsBefore).toBe(2);
  });

  it('a refused registration is FAILED with a reason, not an exception', async () => {
    const result = await adapter.registerWebhooks(
      { ...server, credentials: { sendgrid: { apiKey: SECRET_KEY } } },
      URL,
    );
    expect(result.status).toBe(WebhookStatus.FAILED);
    expect(result.error).toMatch(/rejected the API key/);
    expect(result.error).not.toContain(SECRET_KEY);
  });

  describe('parseWebhook', () => {
    let state: Record<string, string>;
    let webhookId: string;
    const events = [
      {
        email: 'A@example.org',
        timestamp: 1513299569,
        event: 'bounce',
        type: 'bounce',
        sg_event_id: 'ev-1',
        sg_message_id: '14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0',
        reason: '500 unknown recipient',
        status: '5.0.0',
      },
      {
        email: 'b@example.org',
        timestamp: 1513299569,
        event: 'bounce',
        type: 'blocked',
        sg_event_id: 'ev-2',
        sg_message_id: 'Xm1d.recvd-5f8-1-0',
      },
      {
        email: 'c@example.org',
        timestamp: 1513299569,
        event: 'spamreport',
        sg_event_id: 'ev-3',
        sg_message_id: 'Zz9.filter1',
      },
      {
        email: 'd@example.org',
        timestamp: 1513299569,
        event: 'delivered',
        sg_event_id: 'ev-4',
        sg_message_id: 'Dd1.filter1',
        response: '250 OK',
      },
      {
        email: 'e@example.org',
        timestamp: 1513299569,
        event: 'deferred',
        sg_event_id: 'ev-5',
        sg_message_id: 'Ee1.filter1',
      },
      {
        email: 'f@example.org',
        timestamp: 1513299569,
        event: 'dropped',
        sg_event_id: 'ev-6',
        sg_message_id: 'Ff1.filter1',
        reason: 'Bounced Address',
      },
      { email: 'g@example.org', timestamp: 1513299569, event: 'open', sg_event_id: 'ev-7' },
    ];

    beforeAll(async () => {
      const reg = await adapter.registerWebhooks(server, URL + '/parse');
      state = reg.state ?? {};
      webhookId = state.webhookId;
    });

    it('accepts a correctly signed batch and maps each event', async () => {
      const parsed = await adapter.parseWebhook(server, fake.signedPost(webhookId, events), state);
      expect(parsed.map((e) => [e.kind, e.eventId, e.providerMessageId, e.recipient])).toEqual([
        ['HARD_BOUNCE', 'ev-1', '14c5d75ce93.dfd.64b469', 'a@example.org'],
        ['SOFT_BOUNCE', 'ev-2', 'Xm1d', 'b@example.org'],
        ['COMPLAINT', 'ev-3', 'Zz9', 'c@example.org'],
        ['DELIVERED', 'ev-4', 'Dd1', 'd@example.org'],
        ['DEFERRED', 'ev-5', 'Ee1', 'e@example.org'],
        ['REJECTED', 'ev-6', 'Ff1', 'f@example.org'],
      ]);
      expect(parsed[0].occurredAt.toISOString()).toBe('2017-12-15T00:59:29.000Z');
      expect(parsed[0].detail).toContain('500 unknown recipient');
    });

    it('rejects a tampered body, a foreign signature, a timestamp over 24 hours old or ahead of the clock and missing headers as AUTH_FAILED', async () => {
      const good = fake.signedPost(webhookId, events);
      const tampered = { ...good, rawBody: Buffer.from(good.rawBody.toString().replace('"ev-1"', '"ev-9"')) };
      expect(tampered.rawBody.equals(good.rawBody)).toBe(false);
      const other = await adapter.registerWebhooks(server, URL + '/other');
      const foreign = fake.signedPost(other.state?.webhookId ?? '', events);
      const stale = fake.signedPost(webhookId, events, String(Math.floor(Date.now() / 1000) - 25 * 3600));
      const ahead = fake.signedPost(webhookId, events, String(Math.floor(Date.now() / 1000) + 3600));
      const missing = { ...good, headers: { 'content-type': 'application/json' } };
      for (const req of [tampered, foreign, stale, ahead, missing]) {
        const err = await caught(adapter.parseWebhook(server, req, state));
        expect(err.code).toBe(DeliveryErrorCode.AUTH_FAILED);
      }
    });

    it('accepts a signature made two hours ago, or 24 hours ago within the clock skew: SendGrid retries for up to 24 hours', async () => {
      const now = Date.now();
      for (const age of [2 * 3600, 24 * 3600 + 5 * 60]) {
        const parsed = await adapter.parseWebhook(server, fake.signedPost(webhookId, events, String(Math.floor(now / 1000) - age)), state, now);
        expect({ age, events: parsed.length }).toEqual({ age, events: 6 });
      }
    });

    it('a signed body that is not a JSON array is MESSAGE_REJECTED', async () => {
      const err = await caught(
        adapter.parseWebhook(server, fake.signedPost(webhookId, Buffer.from('{"not":"an array"}')), state),
      );
      expect(err.code).toBe(DeliveryErrorCode.MESSAGE_REJECTED);
    });
  });
});

describe('sendGridBaseUrl', () => {
  it('uses the override, else the region host', () => {
    expect(sendGridBaseUrl(config({ sendgridApiUrl: 'http://127.0.0.1:1/' }), { apiKey: KEY, region: 'EU' })).toBe(
      'http://127.0.0.1:1/',
    );
    expect(sendGridBaseUrl(config({}), { apiKey: KEY, region: 'EU' })).toBe('https://api.eu.sendgrid.com/');
    expect(sendGridBaseUrl(config({}), { apiKey: KEY, region: 'GLOBAL' })).toBe('https://api.sendgrid.com/');
    expect(sendGridBaseUrl(config({ sendgridApiUrl: '' }), { apiKey: KEY })).toBe('https://api.sendgrid.com/');
  });
});
