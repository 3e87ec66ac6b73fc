import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { DeliveryErrorCode, SmtpSecurity, TransportKind } from '../../src/providers/provider.enums';
import type { OutgoingMessage, SmtpCredentials } from '../../src/providers/provider.types';
import type { ProvidersConfig } from '../../src/providers/providers.config';
import { SmtpTransport, providerIdFromReply } from '../../src/providers/smtp/smtp-transport';
import { SmtpSink } from '../utils/smtp-sink';
import { waitFor } from '../utils/wait-for';
import { caught } from './helpers';

const TIMEOUT_MS = 500;
/** Test config: loopback allowed (the sink), short timeouts, and the sink's self-signed certificate trusted. */
const config: ProvidersConfig & { tlsRejectUnauthorized: boolean } = {
  allowPrivate: true,
  httpTimeoutMs: 2_000,
  smtpConnectionTimeoutMs: TIMEOUT_MS,
  smtpGreetingTimeoutMs: TIMEOUT_MS,
  // Longer than the greeting timeout so a silent server is reported at its step, not as idle.
  smtpSocketTimeoutMs: 2 * TIMEOUT_MS,
  tlsRejectUnauthorized: false,
};
const PASSWORD = 'pw-7fQ2-very-secret';

function message(overrides: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    from: 'Shop <orders@shop.example>',
    to: 'buyer@customer.example',
    subject: 'Your order',
    html: '<p>Thanks for your <b>order</b></p>',
    text: 'Thanks for your order',
    ...overrides,
  };
}

describe('SMTP transport against the sink', () => {
  const sink = new SmtpSink({ users: [{ user: 'relay-user', pass: PASSWORD }, { user: 'relay-user', pass: 'rotated-pass-2' }] });
  const tlsSink = new SmtpSink({ tls: true, users: [{ user: 'tls-user', pass: PASSWORD }] });
  const smtpsSink = new SmtpSink({ implicitTls: true, users: [{ user: 'tls-user', pass: PASSWORD }] });
  const transport = new SmtpTransport(config);
  let creds: SmtpCredentials;
  let tlsCreds: SmtpCredentials;
  let smtpsCreds: SmtpCredentials;
  let serverSeq = 0;
  /** A fresh server id per test, so no test shares a pool with another. */
  const serverId = (): string => `server-${++serverSeq}`;

  beforeAll(async () => {
    const [port, tlsPort, smtpsPort] = await Promise.all([sink.start(), tlsSink.start(), smtpsSink.start()]);
    creds = { host: '127.0.0.1', port, security: SmtpSecurity.NONE, username: 'relay-user', password: PASSWORD };
    tlsCreds = { host: '127.0.0.1', port: tlsPort, security: SmtpSecurity.STARTTLS, username: 'tls-user', password: PASSWORD };
    smtpsCreds = { host: '127.0.0.1', port: smtpsPort, security: SmtpSecurity.TLS, username: 'tls-user', password: PASSWORD };
  });
  beforeEach(() => {
    sink.reset();
    tlsSink.reset();
    smtpsSink.reset();
  });
  afterAll(async () => {
    await transport.closeAll();
    await Promise.all([sink.stop(), tlsSink.stop(), smtpsSink.stop()]);
  });

  it('closing the pools (shutdown) lets the sends in progress, and those waiting for a connection, finish first', async () => {
    const closing = new SmtpTransport(config);
    sink.delayData(300);
    const id = serverId();
    const sends = Array.from({ length: 8 }, (_, i) => closing.send(id, creds, message({ subject: `closing ${i}` })));
    // Five are on the pool's connections, three wait for one: the pools close now.
    await waitFor('the first sends to reach the sink', () => Promise.resolve(sink.bodiesReceived >= 1), 5_000);
    await closing.closeAll();
    const results = await Promise.allSettled(sends);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(sink.messages.filter((m) => m.subject.startsWith('closing '))).toHaveLength(8);
  }, 30_000);

  it('delivers with from, to, subject, html, text, reply-to, custom headers and the given Message-ID', async () => {
    const result = await transport.send(
      serverId(),
      creds,
      message({ replyTo: 'help@shop.example', messageId: '<order-42@mailroute.test>', headers: [{ name: 'X-Campaign', value: 'spring' }] }),
      [{ name: 'X-Extra', value: 'from-gateway' }],
    );
    const [received] = await sink.waitFor(1, 2_000);
    expect(received.envelope).toEqual({ from: 'orders@shop.example', to: ['buyer@customer.example'] });
    expect(received.from).toBe('"Shop" <orders@shop.example>');
    expect(received.to).toBe('buyer@customer.example');
    expect(received.replyTo).toBe('help@shop.example');
    expect(received.subject).toBe('Your order');
    expect(received.html).toContain('<b>order</b>');
    expect(received.text.trim()).toBe('Thanks for your order');
    expect(received.headers['x-campaign']).toBe('spring');
    expect(received.headers['x-extra']).toBe('from-gateway');
    expect(received.messageId).toBe('<order-42@mailroute.test>');
    expect(received.user).toBe('relay-user');
    expect(result).toEqual({ transport: TransportKind.SMTP, providerMessageId: received.queueId, from: 'Shop <orders@shop.example>' });
  });

  it('messages sharing a body and subject (a campaign) each arrive whole, with their own recipient and Message-ID', async () => {
    const id = serverId();
    const shared = {
      from: '"Müller & Söhne" <news@shop.example>',
      subject: 'Grüße zum Fest — 20 % Rabatt',
      html: '<p>Frohe Feiertage</p>',
      text: '.a line starting with a dot\r\nFrohe Feiertage',
    };
    const recipients = ['anna@customer.example', 'Ben Käufer <ben@customer.example>', 'cleo@BÜCHER.example'];
    const results = await Promise.all(recipients.map((to, i) => transport.send(id, creds, message({ ...shared, to, messageId: `<campaign-${i}@mailroute.test>` }))));
    const received = await sink.waitFor(3, 5_000);
    const byId = new Map(received.map((m) => [m.messageId, m]));
    expect(received.map((m) => m.envelope.to[0]).sort()).toEqual(['anna@customer.example', 'ben@customer.example', 'cleo@bücher.example']);
    recipients.forEach((_, i) => {
      const m = byId.get(`<campaign-${i}@mailroute.test>`);
      expect(m?.from).toBe('"Müller & Söhne" <news@shop.example>');
      expect(m?.subject).toBe(shared.subject);
      expect(m?.html).toContain('Frohe Feiertage');
      expect(m?.text.trim()).toBe('.a line starting with a dot\nFrohe Feiertage');
      expect(results[i].providerMessageId).toBe(m?.queueId);
    });
    expect(byId.get('<campaign-1@mailroute.test>')?.to).toBe('"Ben Käufer" <ben@customer.example>');
    expect(byId.get('<campaign-0@mailroute.test>')?.to).toBe('anna@customer.example');
  });

  it('a message without a given Message-ID gets one, and the send reports it when the reply carries no id', async () => {
    const quiet = new SmtpSink({ users: [{ user: 'relay-user', pass: PASSWORD }], replyWithoutId: true });
    const port = await quiet.start();
    try {
      const result = await transport.send(serverId(), { ...creds, port }, message({ subject: 'no id' }));
      const [received] = await quiet.waitFor(1, 2_000);
      expect(received.messageId).toMatch(/^<[^@]+@shop\.example>$/);
      expect(result.providerMessageId).toBe(received.messageId);
    } finally {
      await quiet.stop();
    }
  });

  it('a host name is resolved once and the connection goes to the checked address', async () => {
    // The sink listens on 127.0.0.1 only: this works because the guard's IPv4 answer is what nodemailer dials.
    await transport.send(serverId(), { ...creds, host: 'localhost' }, message({ subject: 'by name' }));
    const [received] = await sink.waitFor(1, 2_000);
    expect(received.subject).toBe('by name');
  });

  it('a header value cannot inject another header', async () => {
    await transport.send(serverId(), creds, message({ headers: [{ name: 'X-Note', value: 'hi\r\nBcc: thief@evil.example' }] }));
    const [received] = await sink.waitFor(1, 2_000);
    expect(received.envelope.to).toEqual(['buyer@customer.example']);
    expect(received.headers.bcc).toBeUndefined();
    expect(received.raw).not.toMatch(/^Bcc:/im);
  });

  it('sends JSON option headers (X-SMTPAPI style) as given, not MIME-encoded', async () => {
    const json = '{"unique_args":{"order":"42"},"category":["receipts"]}';
    await transport.send(serverId(), creds, message({ headers: [{ name: 'X-SMTPAPI', value: json }] }));
    const [received] = await sink.waitFor(1, 2_000);
    expect(received.raw).toContain(`X-SMTPAPI: ${json}\r\n`);
  });

  it('the send deadline is each conversation\'s own: sends waiting for one of the pool\'s five connections are not aborted while they wait', async () => {
    // 15 sends, 5 connections, every DATA answered after 700 ms: the last wave starts some 1.4 s
    // after it was asked for, past a 1.2 s deadline counted from the call.
    const paced = new SmtpTransport({ ...config, smtpDeadlineMs: 1_200 });
    sink.delayData(700);
    const id = serverId();
    try {
      const results = await Promise.allSettled(Array.from({ length: 15 }, (_, i) => paced.send(id, creds, message({ subject: `wave ${i}` }))));
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      expect(sink.messages).toHaveLength(15);
    } finally {
      await paced.closeAll();
    }
  }, 30_000);

  it('reuses the pooled connection for the next message (one login for two sends)', async () => {
    const id = serverId();
    await transport.send(id, creds, message());
    await transport.send(id, creds, message({ subject: 'second' }));
    await sink.waitFor(2, 2_000);
    expect(sink.logins).toHaveLength(1);
    expect(sink.connections).toBe(1);
  });

  it('rebuilds the pool when the credentials change, and the old password stops being used', async () => {
    const id = serverId();
    await transport.send(id, creds, message());
    const rotated = { ...creds, password: 'rotated-pass-2' };
    await transport.send(id, rotated, message({ subject: 'after rotation' }));
    await transport.send(id, rotated, message({ subject: 'after rotation again' }));
    await sink.waitFor(3, 2_000);
    expect(sink.logins.map((l) => l.pass)).toEqual([PASSWORD, 'rotated-pass-2']);
    expect(sink.logins.every((l) => l.accepted)).toBe(true);
  });

  it('a wrong password is AUTH_FAILED at step AUTH, and the password is not in the error', async () => {
    const wrong = { ...creds, password: 'Wrong-Pass-9931' };
    const err = await caught(transport.send(serverId(), wrong, message()));
    expect(err.code).toBe(DeliveryErrorCode.AUTH_FAILED);
    expect(err.smtpStep).toBe('AUTH');
    expect(err.smtpResponseCode).toBe(535);
    expect(err.transient).toBe(false);
    expect(err.transport).toBe(TransportKind.SMTP);
    expect(err.message).toContain('535 5.7.8 Authentication credentials invalid');
    const everything = JSON.stringify({ ...err, message: err.message, stack: err.stack });
    expect(everything).not.toContain('Wrong-Pass-9931');
    expect(everything).not.toContain(Buffer.from('Wrong-Pass-9931').toString('base64'));
    expect(sink.messages).toHaveLength(0);
  });

  it('a server echoing the AUTH PLAIN token back does not put the password in the error', async () => {
    // AUTH PLAIN sends base64("\0user\0password"); the password's own base64 does not appear in it.
    // A user name of 3 bytes, so the password's base64 does not line up inside the token's.
    const login = { ...creds, username: 'ops' };
    const token = Buffer.from(`\u0000ops\u0000${PASSWORD}`).toString('base64');
    const attempts = [(): Promise<unknown> => transport.send(serverId(), login, message()), (): Promise<unknown> => transport.verify(login)];
    for (const attempt of attempts) {
      sink.script({ step: 'AUTH', code: 535, message: `5.7.8 Authentication failed for ${token}`, times: 1 });
      const err = await caught(attempt());
      expect(err.code).toBe(DeliveryErrorCode.AUTH_FAILED);
      expect(err.message).toContain('535 5.7.8 Authentication failed for [redacted]');
      expect(err.message).not.toContain(token);
    }
  });

  it('550 on RCPT is RECIPIENT_REJECTED (permanent, not server-side)', async () => {
    sink.script({ step: 'RCPT', code: 550, message: '5.1.1 User unknown' });
    const err = await caught(transport.send(serverId(), creds, message()));
    expect(err.code).toBe(DeliveryErrorCode.RECIPIENT_REJECTED);
    expect(err.smtpStep).toBe('RCPT');
    expect(err.smtpResponseCode).toBe(550);
    expect(err.transient).toBe(false);
    expect(err.isServerSide).toBe(false);
    expect(err.message).toContain('5.1.1 User unknown');
  });

  it('554 after DATA is MESSAGE_REJECTED; SES "not verified" wording is SENDER_NOT_VERIFIED', async () => {
    sink.script({ step: 'DATA', code: 554, message: '5.7.1 Message content rejected', times: 1 });
    const content = await caught(transport.send(serverId(), creds, message()));
    expect(content.code).toBe(DeliveryErrorCode.MESSAGE_REJECTED);
    expect(content.smtpStep).toBe('DATA');

    sink.script({ step: 'DATA', code: 554, message: 'Message rejected: Email address is not verified. The following identities failed the check', times: 1 });
    const sender = await caught(transport.send(serverId(), creds, message()));
    expect(sender.code).toBe(DeliveryErrorCode.SENDER_NOT_VERIFIED);
  });

  it('a 421 greeting and a 451 on RCPT are transient', async () => {
    sink.script({ step: 'GREETING', code: 421, message: 'Too many connections, try again later', times: 1 });
    const greeting = await caught(transport.send(serverId(), creds, message()));
    expect(greeting.transient).toBe(true);
    expect(greeting.code).toBe(DeliveryErrorCode.THROTTLED);
    expect(greeting.smtpStep).toBe('GREETING');
    expect(greeting.smtpResponseCode).toBe(421);

    sink.script({ step: 'RCPT', code: 451, message: '4.3.0 Temporary local problem', times: 1 });
    const rcpt = await caught(transport.send(serverId(), creds, message()));
    expect(rcpt.transient).toBe(true);
    expect(rcpt.code).toBe(DeliveryErrorCode.PROVIDER_ERROR);
    expect(rcpt.smtpResponseCode).toBe(451);
    expect(rcpt.isServerSide).toBe(true);
  });

  it('a server that never greets is TIMEOUT within the configured bound', async () => {
    sink.hang();
    const started = Date.now();
    const err = await caught(transport.send(serverId(), creds, message()));
    const elapsed = Date.now() - started;
    expect(err.code).toBe(DeliveryErrorCode.TIMEOUT);
    expect(err.smtpStep).toBe('GREETING');
    expect(err.transient).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    // One requeue at most (maxRequeues 1): two greeting timeouts plus slack.
    expect(elapsed).toBeLessThan(3 * TIMEOUT_MS + 1_000);
  });

  it('a dropped connection is CONNECTION_FAILED (transient)', async () => {
    sink.dropConnections();
    const err = await caught(transport.send(serverId(), creds, message()));
    expect(err.code).toBe(DeliveryErrorCode.CONNECTION_FAILED);
    expect(err.transient).toBe(true);
  });

  it('STARTTLS upgrades the session before login', async () => {
    await transport.send(serverId(), tlsCreds, message({ subject: 'over TLS' }));
    const [received] = await tlsSink.waitFor(1, 2_000);
    expect(received.secure).toBe(true);
    expect(received.subject).toBe('over TLS');
  });

  it('security TLS speaks TLS from the first byte (SMTPS)', async () => {
    await transport.send(serverId(), smtpsCreds, message({ subject: 'over SMTPS' }));
    const [received] = await smtpsSink.waitFor(1, 2_000);
    expect(received.secure).toBe(true);
    expect(received.subject).toBe('over SMTPS');
  });

  it('STARTTLS required but not offered fails at the TLS step instead of sending in clear', async () => {
    const err = await caught(transport.send(serverId(), { ...creds, security: SmtpSecurity.STARTTLS }, message()));
    expect(err.code).toBe(DeliveryErrorCode.CONNECTION_FAILED);
    expect(err.smtpStep).toBe('TLS');
    expect(sink.messages).toHaveLength(0);
  });

  it('STARTTLS with certificate checks on refuses the self-signed sink (TLS step)', async () => {
    const strict = new SmtpTransport({ ...config, tlsRejectUnauthorized: true });
    try {
      const err = await caught(strict.send(serverId(), tlsCreds, message()));
      expect(err.code).toBe(DeliveryErrorCode.CONNECTION_FAILED);
      expect(err.smtpStep).toBe('TLS');
      expect(tlsSink.messages).toHaveLength(0);
    } finally {
      await strict.closeAll();
    }
  });

  it('the outbound guard refuses the loopback sink when private destinations are not allowed', async () => {
    const production = new SmtpTransport({ ...config, allowPrivate: false });
    try {
      for (const host of ['127.0.0.1', 'localhost', '[::1]']) {
        const err = await caught(production.send(serverId(), { ...creds, host }, message()));
        expect(err.code).toBe(DeliveryErrorCode.BLOCKED_DESTINATION);
        expect(err.transient).toBe(false);
      }
      const verifyErr = await caught(production.verify(creds));
      expect(verifyErr.code).toBe(DeliveryErrorCode.BLOCKED_DESTINATION);
      expect(sink.connections).toBe(0);
    } finally {
      await production.closeAll();
    }
  });

  it('verify() logs in and QUITs; a wrong password fails at AUTH', async () => {
    await expect(transport.verify(creds)).resolves.toBeUndefined();
    expect(sink.logins).toEqual([{ user: 'relay-user', pass: PASSWORD, accepted: true }]);
    const err = await caught(transport.verify({ ...creds, password: 'nope-nope' }));
    expect(err.code).toBe(DeliveryErrorCode.AUTH_FAILED);
    expect(err.smtpStep).toBe('AUTH');
    expect(sink.messages).toHaveLength(0);
  });

  it('checkSender() accepts a sender the server takes, without sending a message', async () => {
    await expect(transport.checkSender(creds, 'orders@shop.example')).resolves.toEqual({ verified: true });
    expect(sink.logins).toHaveLength(1);
    expect(sink.messages).toHaveLength(0);
  });

  it('a server that requires a login, given none, is AUTH_FAILED (send and checkSender)', async () => {
    const anonymous = { ...creds, username: null, password: null };
    const send = await caught(transport.send(serverId(), anonymous, message()));
    expect(send.code).toBe(DeliveryErrorCode.AUTH_FAILED);
    expect(send.smtpResponseCode).toBe(530);
    const check = await caught(transport.checkSender(anonymous, 'orders@shop.example'));
    expect(check.code).toBe(DeliveryErrorCode.AUTH_FAILED);
  });

  it('checkSender() reports a refused MAIL FROM as not verified, with the server reply', async () => {
    sink.script({ step: 'MAIL_FROM', code: 550, message: '5.7.1 Sender rejected' });
    const check = await transport.checkSender(creds, 'someone@elsewhere.example');
    expect(check.verified).toBe(false);
    expect(check.reason).toContain('550 5.7.1 Sender rejected');
    expect(sink.messages).toHaveLength(0);
  });

  it('checkSender() throws AUTH_FAILED for a wrong password, and a 4xx MAIL FROM as transient', async () => {
    const auth = await caught(transport.checkSender({ ...creds, password: 'bad-bad-bad' }, 'orders@shop.example'));
    expect(auth.code).toBe(DeliveryErrorCode.AUTH_FAILED);
    expect(auth.message).not.toContain('bad-bad-bad');

    sink.script({ step: 'MAIL_FROM', code: 454, message: 'Throttling failure: Maximum sending rate exceeded.' });
    const throttled = await caught(transport.checkSender(creds, 'orders@shop.example'));
    expect(throttled.code).toBe(DeliveryErrorCode.THROTTLED);
    expect(throttled.smtpStep).toBe('MAIL_FROM');
  });
});

describe('an SMTP server trickling its replies (a byte at a time, never idle long enough for a socket timeout)', () => {
  const DEADLINE_MS = 1_500;
  const transport = new SmtpTransport({ ...config, smtpDeadlineMs: DEADLINE_MS });
  let server: Server;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      let timer: NodeJS.Timeout | undefined;
      socket.on('close', () => {
        sockets.delete(socket);
        clearInterval(timer);
      });
      // Each reply after the greeting goes out a byte every 200 ms (well inside the 1 s socket timeout).
      let pending = '';
      const trickle = (text: string): void => {
        pending += text;
        timer ??= setInterval(() => {
          if (!pending) return;
          socket.write(pending[0]);
          pending = pending.slice(1);
        }, 200);
      };
      socket.write('220 trickle.test ESMTP\r\n'); // at once: the greeting has its own timeout
      socket.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString('latin1').split('\r\n').filter(Boolean)) trickle(/^(EHLO|HELO)/i.test(line) ? '250-trickle.test\r\n250 8BITMIME\r\n' : '250 OK\r\n');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  const trickling = (): SmtpCredentials => ({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, security: SmtpSecurity.NONE, username: null, password: null });

  it.each([
    ['send', () => transport.send('trickle-server', trickling(), message())],
    ['verify', () => transport.verify(trickling())],
    ['checkSender', () => transport.checkSender(trickling(), 'orders@shop.example')],
  ])('%s fails as a transient TIMEOUT at the deadline', async (_name, call) => {
    const started = Date.now();
    const err = await caught(call());
    expect(err).toMatchObject({ code: DeliveryErrorCode.TIMEOUT, transient: true, transport: TransportKind.SMTP });
    expect(err.message).toContain('did not finish in time');
    expect(Date.now() - started).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
    // And the connection is closed, not left to the trickling server.
    await waitFor('the connection to the trickling server closed', async () => sockets.size === 0, 3_000);
  });
});

describe('providerIdFromReply', () => {
  it.each([
    ['250 2.0.0 Ok: queued as 4F9A1C2B3D', '4F9A1C2B3D'],
    ['250 Ok 0100018c3b9f5a2e-7d2c7a1b-5b1e-4a55-9a0e-6b0f1c2d3e4f-000000', '0100018c3b9f5a2e-7d2c7a1b-5b1e-4a55-9a0e-6b0f1c2d3e4f-000000'],
    ['250 2.0.0 OK 1a/2B-12345-6789ABCD', '1a/2B-12345-6789ABCD'],
    ['250 Great success', null],
    ['250 OK', null],
    [undefined, null],
  ])('%s → %s', (reply, id) => {
    expect(providerIdFromReply(reply)).toBe(id);
  });
});
