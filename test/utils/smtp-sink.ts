import { randomBytes } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { simpleParser } from 'mailparser';
import { generate } from 'selfsigned';
import { SMTPServer, type SMTPServerAuthentication, type SMTPServerDataStream, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';

/** The steps a test can script a reply for. */
export type SinkStep = 'GREETING' | 'AUTH' | 'MAIL_FROM' | 'RCPT' | 'DATA';

export interface SinkScript {
  step: SinkStep;
  /** The reply code, e.g. 550, 421. */
  code: number;
  /** The reply text after the code, e.g. '5.1.1 User unknown'. */
  message: string;
  /** How many times to apply it; every time when omitted. */
  times?: number;
}

export interface SinkUser {
  user: string;
  pass: string;
}

export interface SinkOptions {
  /** When given: AUTH PLAIN/LOGIN is advertised and required, and only these logins pass. */
  users?: SinkUser[];
  /** Offer STARTTLS with a self-signed certificate (clients must not verify it). */
  tls?: boolean;
  /** TLS from the first byte (SMTPS, port 465 style) with the same self-signed certificate. */
  implicitTls?: boolean;
  /** Accept DATA with a bare "250 OK" that names no queue id, as some relays do. */
  replyWithoutId?: boolean;
}

export interface SinkMessage {
  envelope: { from: string; to: string[] };
  from: string;
  to: string;
  replyTo: string;
  subject: string;
  html: string;
  text: string;
  /** Header name (lower case) → raw value as sent; the last one wins for repeated headers. */
  headers: Record<string, string>;
  messageId: string;
  raw: string;
  /** The id the sink put in its 250 reply ("queued as <id>"). */
  queueId: string;
  receivedAt: number;
  /** Whether the session had upgraded to TLS. */
  secure: boolean;
  /** Who was logged in, when AUTH was used. */
  user: string | null;
}

export interface SinkLogin {
  user: string;
  pass: string;
  accepted: boolean;
}

// One certificate per process: generating a key pair costs more than everything else here.
let certificate: Promise<{ key: string; cert: string }> | undefined;
function selfSignedCertificate(): Promise<{ key: string; cert: string }> {
  certificate ??= generate([{ name: 'commonName', value: 'smtp-sink.test' }], { keySize: 2048 }).then((pems) => ({
    key: pems.private,
    cert: pems.cert,
  }));
  return certificate;
}

function replyError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

/**
 * A local SMTP server for tests (on smtp-server, PROVIDERS.md §6.5): records every message,
 * checks logins, and can be scripted to answer any step with a given reply, to hang before the
 * greeting, or to drop connections. Listens on 127.0.0.1 only.
 */
export class SmtpSink {
  readonly messages: SinkMessage[] = [];
  readonly logins: SinkLogin[] = [];
  /** TCP connections accepted, so tests can tell a pooled connection from a new one. */
  connections = 0;

  private server?: SMTPServer;
  private scripts: SinkScript[] = [];
  private mode: 'normal' | 'hang' | 'drop' = 'normal';
  private dataDelayMs = 0;
  /** Message bodies read in full, whatever the answer to them (delayed or scripted ones too). */
  bodiesReceived = 0;
  private readonly hanging = new Set<() => void>();
  private readonly waiters = new Set<() => void>();
  private readonly sockets = new Set<Socket>();

  constructor(private readonly options: SinkOptions = {}) {}

  async start(): Promise<number> {
    const tls = this.options.tls || this.options.implicitTls ? await selfSignedCertificate() : undefined;
    const requireAuth = (this.options.users?.length ?? 0) > 0;
    const serverOptions: SMTPServerOptions = {
      secure: Boolean(this.options.implicitTls),
      key: tls?.key,
      cert: tls?.cert,
      disabledCommands: this.options.tls ? [] : ['STARTTLS'],
      authMethods: ['PLAIN', 'LOGIN'],
      authOptional: !requireAuth,
      // Tests without TLS still log in (as the production relays do after STARTTLS).
      allowInsecureAuth: true,
      disableReverseLookup: true,
      closeTimeout: 200,
      logger: false,
      size: 10 * 1024 * 1024,
      onConnect: (session, callback) => this.onConnect(session, callback),
      onAuth: (auth, session, callback) => this.onAuth(auth, session, callback),
      onMailFrom: (_address, _session, callback) => callback(this.scripted('MAIL_FROM')),
      onRcptTo: (_address, _session, callback) => callback(this.scripted('RCPT')),
      onData: (stream, session, callback) => void this.onData(stream, session, callback),
    };
    const server = new SMTPServer(serverOptions);
    this.server = server;
    server.on('error', () => undefined); // a client hanging up mid-session is expected in these tests
    const net = (server as unknown as { server: import('node:net').Server }).server;
    net.on('connection', (socket: Socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      if (this.mode === 'drop') socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return this.port;
  }

  get port(): number {
    const net = (this.server as unknown as { server: import('node:net').Server }).server;
    return (net.address() as AddressInfo).port;
  }

  /** Answer `step` with this reply (for `times` times, or until reset()). */
  script(script: SinkScript): void {
    this.scripts.push({ ...script });
  }

  /** Accept TCP connections but never send the greeting. */
  hang(): void {
    this.mode = 'hang';
  }

  /** Close every new connection as soon as it is accepted. */
  dropConnections(): void {
    this.mode = 'drop';
  }

  /** Answer each DATA this much later (a slow server): the message is recorded when the answer goes out. */
  delayData(ms: number): void {
    this.dataDelayMs = ms;
  }

  /** Close every open connection now (idle pooled sessions included), as a restart of the server would. */
  closeConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  /** Back to a well-behaved server with no recorded messages; for a clean start per test. */
  reset(): void {
    this.scripts = [];
    this.mode = 'normal';
    this.dataDelayMs = 0;
    this.messages.length = 0;
    this.logins.length = 0;
    this.connections = 0;
    this.releaseHanging();
  }

  /** Wait until at least `count` messages have arrived, failing after `timeoutMs`. */
  waitFor(count: number, timeoutMs = 5_000): Promise<SinkMessage[]> {
    if (this.messages.length >= count) return Promise.resolve(this.messages.slice());
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.messages.length < count) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(this.messages.slice());
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`SMTP sink: expected ${count} message(s) within ${timeoutMs} ms, got ${this.messages.length}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.releaseHanging();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Clients (pools under test) may keep idle sessions open; end them now rather than after closeTimeout.
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private releaseHanging(): void {
    for (const release of this.hanging) release();
    this.hanging.clear();
  }

  private scripted(step: SinkStep): Error | null {
    const script = this.scripts.find((s) => s.step === step && (s.times === undefined || s.times > 0));
    if (!script) return null;
    if (script.times !== undefined) script.times--;
    return replyError(script.code, script.message);
  }

  private onConnect(_session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    if (this.mode === 'hang') {
      // Never greet; on stop() the callback is released with an error so the session ends.
      this.hanging.add(() => callback(replyError(421, 'Sink stopping')));
      return;
    }
    callback(this.scripted('GREETING'));
  }

  private onAuth(
    auth: SMTPServerAuthentication,
    _session: SMTPServerSession,
    callback: (err: Error | null | undefined, response?: { user: string }) => void,
  ): void {
    const user = auth.username ?? '';
    const pass = auth.password ?? '';
    const scripted = this.scripted('AUTH');
    const accepted = !scripted && (this.options.users ?? []).some((u) => u.user === user && u.pass === pass);
    this.logins.push({ user, pass, accepted });
    if (scripted) return callback(scripted);
    if (!accepted) return callback(replyError(535, '5.7.8 Authentication credentials invalid'));
    callback(null, { user });
  }

  private async onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void): Promise<void> {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of stream) chunks.push(chunk as Buffer);
    } catch (err) {
      // The client went away mid-DATA (a killed worker): nothing arrived, nothing to record.
      return callback(err instanceof Error ? err : new Error('DATA interrupted'));
    }
    // The body must be read whole before answering, whatever the answer is.
    this.bodiesReceived++;
    if (this.dataDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.dataDelayMs));
    const scripted = this.scripted('DATA');
    if (scripted) return callback(scripted);
    const raw = Buffer.concat(chunks).toString('utf8');
    const parsed = await simpleParser(raw);
    const headers: Record<string, string> = {};
    for (const { key, line } of parsed.headerLines) headers[key.toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
    const queueId = randomBytes(6).toString('hex').toUpperCase();
    const addressText = (value: typeof parsed.from | typeof parsed.to | typeof parsed.replyTo): string =>
      !value ? '' : Array.isArray(value) ? value.map((v) => v.text).join(', ') : value.text;
    this.messages.push({
      envelope: {
        from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
        to: session.envelope.rcptTo.map((r) => r.address),
      },
      from: addressText(parsed.from),
      to: addressText(parsed.to),
      replyTo: addressText(parsed.replyTo),
      subject: parsed.subject ?? '',
      html: typeof parsed.html === 'string' ? parsed.html : '',
      text: parsed.text ?? '',
      headers,
      messageId: parsed.messageId ?? '',
      raw,
      queueId,
      receivedAt: Date.now(),
      secure: session.secure,
      user: typeof session.user === 'string' ? session.user : null,
    });
    callback(null, this.options.replyWithoutId ? 'OK' : `2.0.0 Ok: queued as ${queueId}`);
    for (const waiter of [...this.waiters]) waiter();
  }
}
