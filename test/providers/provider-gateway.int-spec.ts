import { DeliveryErrorCode, DeliveryProvider, SmtpSecurity, TransportKind } from '../../src/providers/provider.enums';
import { ProviderGateway } from '../../src/providers/provider-gateway';
import type { OutgoingMessage, ProviderServer, SmtpCredentials } from '../../src/providers/provider.types';
import { SendGridAdapter } from '../../src/providers/sendgrid/sendgrid.adapter';
import type { ProvidersConfig } from '../../src/providers/providers.config';
import { SmtpTransport } from '../../src/providers/smtp/smtp-transport';
import { SendGridFake } from '../fakes/sendgrid-fake';
import { SmtpSink } from '../utils/smtp-sink';
import { caught } from './helpers';

const SG_KEY = 'SG.gateway-test-key';

function message(overrides: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    from: 'Shop <orders@shop.example>',
    to: 'buyer@customer.example',
    subject: 'Gateway test',
    html: '<p>hello</p>',
    text: 'hello',
    ...overrides,
  };
}

describe('ProviderGateway', () => {
  const sink = new SmtpSink({ users: [{ user: 'relay', pass: 'relay-pass-123' }] });
  const sendgrid = new SendGridFake({ apiKeys: [SG_KEY], authenticatedDomains: [{ domain: 'shop.example', valid: true }] });
  let transport: SmtpTransport;
  let gateway: ProviderGateway;
  let smtp: SmtpCredentials;
  let seq = 0;

  /** A server with a fresh id per test (no pool shared between tests). */
  function server(provider: DeliveryProvider, overrides: Partial<ProviderServer> = {}): ProviderServer {
    return { id: `gw-${++seq}`, provider, credentials: { smtp }, ...overrides };
  }
  function sendGridServer(overrides: Partial<ProviderServer> = {}): ProviderServer {
    return server(DeliveryProvider.SENDGRID, { credentials: { sendgrid: { apiKey: SG_KEY }, smtp }, ...overrides });
  }

  beforeAll(async () => {
    const [port, sendgridUrl] = await Promise.all([sink.start(), sendgrid.start()]);
    smtp = { host: '127.0.0.1', port, security: SmtpSecurity.NONE, username: 'relay', password: 'relay-pass-123' };
    const config: ProvidersConfig = {
      allowPrivate: true,
      httpTimeoutMs: 2_000,
      smtpConnectionTimeoutMs: 500,
      smtpGreetingTimeoutMs: 500,
      smtpSocketTimeoutMs: 1_000,
      sendgridApiUrl: sendgridUrl,
      tlsRejectUnauthorized: false,
    };
    transport = new SmtpTransport(config);
    gateway = new ProviderGateway([new SendGridAdapter(config)], transport);
  });
  beforeEach(() => {
    sink.reset();
    sendgrid.fail({ kind: 'none' });
    sendgrid.accepted.length = 0;
  });
  afterAll(async () => {
    await transport.closeAll();
    await Promise.all([sink.stop(), sendgrid.stop()]);
  });

  it('orders transports API first, then SMTP; provider SMTP uses SMTP only', () => {
    expect(gateway.transportsFor(sendGridServer())).toEqual([TransportKind.API, TransportKind.SMTP]);
    expect(gateway.transportsFor(server(DeliveryProvider.SENDGRID, { credentials: { sendgrid: { apiKey: SG_KEY } } }))).toEqual([TransportKind.API]);
    expect(gateway.transportsFor(server(DeliveryProvider.AMAZON_SES))).toEqual([TransportKind.SMTP]);
    expect(gateway.transportsFor(server(DeliveryProvider.SMTP, { credentials: { smtp, sendgrid: { apiKey: SG_KEY } } }))).toEqual([TransportKind.SMTP]);
    expect(gateway.transportsFor(server(DeliveryProvider.MAILGUN, { credentials: {} }))).toEqual([]);
    expect(gateway.adapterFor(DeliveryProvider.SMTP).provider).toBe(DeliveryProvider.SMTP);
  });

  it('sends a provider-SMTP server through SMTP and says so', async () => {
    const result = await gateway.send(server(DeliveryProvider.SMTP), message());
    const [received] = await sink.waitFor(1, 2_000);
    expect(result.transport).toBe(TransportKind.SMTP);
    expect(result.providerMessageId).toBe(received.queueId);
  });

  it('a forced senderAddress replaces From and keeps the original as Reply-To', async () => {
    const result = await gateway.send(server(DeliveryProvider.SMTP, { senderAddress: 'no-reply@relay.example' }), message());
    const [received] = await sink.waitFor(1, 2_000);
    expect(received.from).toBe('no-reply@relay.example');
    expect(received.envelope.from).toBe('no-reply@relay.example');
    expect(received.replyTo).toBe('"Shop" <orders@shop.example>');
    expect(result.from).toBe('no-reply@relay.example');
  });

  it('a forced senderAddress leaves an explicit Reply-To alone', async () => {
    await gateway.send(server(DeliveryProvider.SMTP, { senderAddress: 'no-reply@relay.example' }), message({ replyTo: 'support@shop.example' }));
    const [received] = await sink.waitFor(1, 2_000);
    expect(received.from).toBe('no-reply@relay.example');
    expect(received.replyTo).toBe('support@shop.example');
  });

  it('carries the SparkPost IP pool in X-MSYS-API on SMTP, keeping options already there', async () => {
    const sparkpost = server(DeliveryProvider.SPARKPOST, { ipPool: 'marketing_ip_pool' });
    await gateway.send(sparkpost, message({ headers: [{ name: 'X-MSYS-API', value: '{"campaign_id":"spring","options":{"open_tracking":false}}' }] }));
    const [received] = await sink.waitFor(1, 2_000);
    expect(JSON.parse(received.headers['x-msys-api'])).toEqual({ campaign_id: 'spring', options: { open_tracking: false, ip_pool: 'marketing_ip_pool' } });
    // Exactly one X-MSYS-API header went out.
    expect(received.raw.match(/^X-MSYS-API:/gim)).toHaveLength(1);
  });

  it('adds no X-MSYS-API header for other providers', async () => {
    await gateway.send(server(DeliveryProvider.SMTP, { ipPool: 'marketing_ip_pool' }), message());
    const [received] = await sink.waitFor(1, 2_000);
    expect(received.headers['x-msys-api']).toBeUndefined();
  });

  it('names the SES configuration set over SMTP too (its events are published only for sends that name it)', async () => {
    const ses = { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret', region: 'eu-west-1' };
    await gateway.send(server(DeliveryProvider.AMAZON_SES, { credentials: { smtp, ses: { ...ses, configurationSetName: 'mailroute-events' } } }), message(), { only: TransportKind.SMTP });
    await gateway.send(server(DeliveryProvider.AMAZON_SES, { credentials: { smtp, ses } }), message({ subject: 'no set' }), { only: TransportKind.SMTP });
    const received = await sink.waitFor(2, 2_000);
    expect(received.find((m) => m.subject !== 'no set')?.headers['x-ses-configuration-set']).toBe('mailroute-events');
    expect(received.find((m) => m.subject === 'no set')?.headers['x-ses-configuration-set']).toBeUndefined();
  });

  it('uses the API when it works (nothing reaches SMTP)', async () => {
    const result = await gateway.send(sendGridServer(), message());
    expect(result.transport).toBe(TransportKind.API);
    expect(sendgrid.accepted).toHaveLength(1);
    expect(result.providerMessageId).toBe(sendgrid.accepted[0].providerMessageId);
    expect(sink.connections).toBe(0);
  });

  it('falls back to SMTP when the API answers 5xx', async () => {
    sendgrid.fail(SendGridFake.serverError(503));
    const result = await gateway.send(sendGridServer(), message({ subject: 'fallback' }));
    const [received] = await sink.waitFor(1, 2_000);
    expect(result.transport).toBe(TransportKind.SMTP);
    expect(received.subject).toBe('fallback');
    expect(sendgrid.accepted).toHaveLength(0);
  });

  it('does not fall back when the API rejected the recipient', async () => {
    sendgrid.fail({
      kind: 'status',
      status: 400,
      body: { errors: [{ message: 'Does not contain a valid address.', field: 'personalizations.0.to.0.email', help: null }] },
    });
    const err = await caught(gateway.send(sendGridServer(), message({ to: 'not-an-address@@customer.example' })));
    expect(err.code).toBe(DeliveryErrorCode.RECIPIENT_REJECTED);
    expect(err.transport).toBe(TransportKind.API);
    expect(sink.connections).toBe(0);
  });

  it('when every transport fails, throws the last error with its transport', async () => {
    sendgrid.fail(SendGridFake.serverError(503));
    sink.script({ step: 'RCPT', code: 550, message: '5.1.1 User unknown' });
    const err = await caught(gateway.send(sendGridServer(), message()));
    expect(err.code).toBe(DeliveryErrorCode.RECIPIENT_REJECTED);
    expect(err.transport).toBe(TransportKind.SMTP);
    // With the API's failure before it: whether the provider may have the message depends on both.
    expect(err.earlier.map((e) => [e.transport, e.code, e.providerStatus])).toEqual([[TransportKind.API, DeliveryErrorCode.PROVIDER_ERROR, 503]]);
  });

  it('only: SMTP skips a working API', async () => {
    const result = await gateway.send(sendGridServer(), message(), { only: TransportKind.SMTP });
    await sink.waitFor(1, 2_000);
    expect(result.transport).toBe(TransportKind.SMTP);
    expect(sendgrid.accepted).toHaveLength(0);
  });

  it('a server without credentials for the asked transport is NO_ROUTE', async () => {
    const err = await caught(gateway.send(server(DeliveryProvider.SMTP), message(), { only: TransportKind.API }));
    expect(err.code).toBe(DeliveryErrorCode.NO_ROUTE);
    expect(sink.connections).toBe(0);
  });

  it('verifyCredentials checks each transport; a bad SMTP password fails with transport SMTP', async () => {
    await expect(gateway.verifyCredentials(sendGridServer())).resolves.toEqual([TransportKind.API, TransportKind.SMTP]);
    const badSmtp = sendGridServer({ credentials: { sendgrid: { apiKey: SG_KEY }, smtp: { ...smtp, password: 'wrong-one-42' } } });
    const err = await caught(gateway.verifyCredentials(badSmtp));
    expect(err.code).toBe(DeliveryErrorCode.AUTH_FAILED);
    expect(err.transport).toBe(TransportKind.SMTP);
    await expect(gateway.verifyCredentials(badSmtp, TransportKind.API)).resolves.toEqual([TransportKind.API]);
  });

  it('checkSender asks the SMTP server when there is no API', async () => {
    sink.script({ step: 'MAIL_FROM', code: 553, message: '5.7.1 Sender address rejected: not owned by user relay' });
    const check = await gateway.checkSender(server(DeliveryProvider.SMTP), 'ceo@elsewhere.example');
    expect(check.verified).toBe(false);
    expect(check.reason).toContain('553 5.7.1');
    expect(sink.messages).toHaveLength(0);
  });
});
