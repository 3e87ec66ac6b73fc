import { createHash } from 'node:crypto';
import nodemailer, { type SMTPPoolOptions, type SMTPSentMessageInfo, type SMTPTransportOptions, type Transporter } from 'nodemailer';
import SMTPConnection, { type SMTPConnectionAuth, type SMTPConnectionCustomAuthContext, type SMTPConnectionOptions } from 'nodemailer/lib/smtp-connection';
import { DeliveryErrorCode, SmtpSecurity, TransportKind } from '../provider.enums';
import { DeliveryError } from '../delivery-error';
import type { MessageHeader, OutgoingMessage, SendResult, SenderCheck, SmtpCredentials } from '../provider.types';
import { smtpDeadlineMs, type ProvidersConfig } from '../providers.config';
import { checkSmtpDestination, type CheckedDestination } from './outbound-guard';
import { classifySmtpError } from './smtp-errors';
import { MimeTemplates, type MimeInput } from './mime-templates';

/**
 * A pool keeps the IP it resolved at creation (the guard checked that one); rebuild it now and
 * then so a host that moved is followed without a DNS lookup per message.
 */
const POOL_REFRESH_MS = 5 * 60_000;
/** SparkPost closes idle SMTP sessions after 60 s (PROVIDERS.md §4.7): let ours go first. */
const POOL_IDLE_MS = 50_000;

interface PoolEntry {
  fingerprint: string;
  createdAt: number;
  transporter: Promise<Transporter<SMTPSentMessageInfo>>;
  inFlight: number;
  retired: boolean;
  /** Sends handed to the pool (at most POOL_CONNECTIONS), and the ones waiting for a turn. */
  sending: number;
  turns: (() => void)[];
  /** Told when the last send of a retired pool has ended (closeAll waits for it). */
  whenIdle?: () => void;
  /** Set once the pool is being closed: closing is done once, whoever asks. */
  closing?: Promise<void>;
}

/** Connections per server pool: sends beyond it wait for a turn in SmtpTransport.send. */
const POOL_CONNECTIONS = 5;


function fingerprintOf(creds: SmtpCredentials): string {
  // Hashed so the map key never holds the password itself.
  return createHash('sha256')
    .update(JSON.stringify([creds.host, creds.port, creds.security, creds.username ?? '', creds.password ?? '']))
    .digest('hex');
}

/**
 * The id a provider gives the message in its final 250 reply ("queued as ABC", SES "Ok <id>",
 * SparkPost "OK 12/34-…"); null when the reply carries none.
 */
export function providerIdFromReply(response: string | undefined): string | null {
  if (!response) return null;
  const queued = /queued as\s+<?([^\s>]+)>?/i.exec(response);
  if (queued) return queued[1];
  const ok = /^250[ -](?:\d\.\d\.\d+\s+)?ok:?\s+<?([A-Za-z0-9][\w.\-/@=+]{7,})>?\s*$/i.exec(response.trim());
  return ok ? ok[1] : null;
}

/** Longest header line we write as given; RFC 5322 allows 998 characters. */
const MAX_RAW_HEADER = 990;

/**
 * Printable-ASCII values go out exactly as given: nodemailer would otherwise MIME-encode
 * provider option headers (X-MSYS-API, X-SMTPAPI, X-Mailgun-Variables carry JSON) into
 * =?UTF-8?Q?…?= words the provider cannot read. Anything else (non-ASCII, control
 * characters, very long) is left to nodemailer to encode and fold safely.
 */
function headerValue(header: MessageHeader): string | { prepared: true; value: string } {
  const printable = /^[\x20-\x7e]*$/.test(header.value);
  return printable && header.name.length + header.value.length + 2 <= MAX_RAW_HEADER ? { prepared: true, value: header.value } : header.value;
}

/**
 * What must never show in an error's text, even when a server echoes what it was sent: the
 * password (AUTH LOGIN sends it base64-encoded on its own) and AUTH PLAIN's token, the base64 of
 * "\0user\0password", in which the password's own base64 does not appear. The classifier
 * redacts each value and its base64 form.
 */
function secretsOf(creds: SmtpCredentials): (string | null | undefined)[] {
  return creds.password ? [creds.password, `\u0000${creds.username ?? ''}\u0000${creds.password}`] : [];
}

function takeTurn(entry: PoolEntry): Promise<void> {
  if (entry.sending < POOL_CONNECTIONS) {
    entry.sending++;
    return Promise.resolve();
  }
  return new Promise((resolve) => entry.turns.push(resolve));
}

/** Hands the turn to the next waiting send, if any (it keeps the count), or gives it back. */
function endTurn(entry: PoolEntry): void {
  const next = entry.turns.shift();
  if (next) next();
  else entry.sending--;
}

/**
 * Sends through plain SMTP with nodemailer: one pool per delivery server, rebuilt when the
 * credentials change. Every connection goes to the address the outbound guard checked.
 * No nodemailer logger is ever set: its debug output would carry AUTH lines.
 */
export class SmtpTransport {
  private readonly pools = new Map<string, PoolEntry>();
  private readonly templates = new MimeTemplates();

  constructor(private readonly config: ProvidersConfig) {}

  async send(serverId: string, creds: SmtpCredentials, message: OutgoingMessage, extraHeaders: MessageHeader[] = []): Promise<SendResult> {
    const entry = this.poolFor(serverId, creds);
    entry.inFlight++;
    let turn = false;
    try {
      const transporter = await entry.transporter;
      // Built before taking a connection's turn, so the turn is not held while composing.
      const { raw, messageId } = await this.templates.build(mimeInput(message, extraHeaders));
      // One send per pool connection at a time: the deadline below is the conversation's, and in
      // nodemailer's own queue it would also run while the send waits for a connection (a slow
      // but healthy server would see queued sends aborted before a byte was written).
      await takeTurn(entry);
      turn = true;
      // Fails the send (closing its connection) however slowly the server keeps answering.
      const info = await transporter.sendMail({ envelope: { from: message.from, to: [message.to] }, raw, signal: AbortSignal.timeout(smtpDeadlineMs(this.config)) });
      return {
        transport: TransportKind.SMTP,
        providerMessageId: providerIdFromReply(info.response) ?? messageId,
        from: message.from,
      };
    } catch (err) {
      throw classifySmtpError(err, { redact: secretsOf(creds) });
    } finally {
      if (turn) endTurn(entry);
      entry.inFlight--;
      if (entry.retired && entry.inFlight === 0) void this.closeEntry(entry).then(() => entry.whenIdle?.());
    }
  }

  /** Connect and log in (when credentials are set), then QUIT: proves host, TLS and login. */
  async verify(creds: SmtpCredentials): Promise<void> {
    await this.converse(creds, null);
  }

  /**
   * Does the server take mail from this address? Log in, then MAIL FROM:<address> and RCPT
   * TO:<address>, then RSET and QUIT — no DATA, so nothing is sent. A refused MAIL FROM (or
   * RCPT) is an answer, not an error; network, TLS, login and 4xx failures throw.
   */
  async checkSender(creds: SmtpCredentials, address: string): Promise<SenderCheck> {
    let outcome: SenderCheck | DeliveryError = { verified: true };
    await this.converse(creds, async (ctx) => {
      // Kept aside rather than thrown: nodemailer would relabel a thrown error as EAUTH.
      outcome = await this.probeEnvelope(ctx, address).catch((err: unknown) => classifySmtpError(err, { redact: secretsOf(creds) }));
    });
    if (outcome instanceof DeliveryError) throw outcome;
    return outcome;
  }

  /**
   * One SMTP session of our own, outside the pools: connect (and TLS), log in when credentials
   * are set, run `work` on the logged-in session, QUIT. The connection is closed, whatever the
   * server does, by the conversation's deadline (and a QUIT left unanswered, by a socket timeout
   * after it): a server trickling its replies would otherwise keep it open for ever.
   */
  private async converse(creds: SmtpCredentials, work: ((ctx: SMTPConnectionCustomAuthContext) => Promise<void>) | null): Promise<void> {
    const redact = { redact: secretsOf(creds) };
    const destination = await checkSmtpDestination(creds.host, this.config).catch((err: unknown) => {
      throw classifySmtpError(err, redact);
    });
    // nodemailer has no public "envelope only" call; its customAuth hook is the documented way
    // to run raw commands on an established (TLS, logged-in) session, so the work runs there.
    const WORK = 'X-MAILROUTE-SESSION';
    const options: SMTPConnectionOptions = {
      ...this.connectionOptions(creds, destination),
      ...(work
        ? {
            customAuth: {
              [WORK]: async (ctx: SMTPConnectionCustomAuthContext): Promise<boolean> => {
                await work(ctx);
                return true;
              },
            },
          }
        : {}),
    };
    const connection = new SMTPConnection(options);
    // A failure mid-command may only surface as an event; race every step against it.
    const broken = new Promise<never>((_resolve, reject) => {
      connection.once('error', reject);
      connection.once('end', () => reject(Object.assign(new Error('Connection closed unexpectedly'), { code: 'ECONNECTION', command: 'CONN' })));
    });
    broken.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error('The SMTP check did not finish in time'), { code: 'EABORT' })), smtpDeadlineMs(this.config));
      timer.unref();
    });
    deadline.catch(() => undefined);
    const step = (run: (done: (err?: Error | null) => void) => void): Promise<void> =>
      Promise.race([new Promise<void>((resolve, reject) => run((err) => (err ? reject(err) : resolve()))), broken, deadline]);
    try {
      await step((done) => connection.connect(done));
      if (creds.username && creds.password) {
        const login: SMTPConnectionAuth = { user: creds.username, pass: creds.password };
        await step((done) => connection.login(login, done));
      }
      if (work) await step((done) => connection.login({ method: WORK }, done));
    } catch (err) {
      connection.close();
      throw classifySmtpError(err, redact);
    } finally {
      clearTimeout(timer);
    }
    // QUIT, then nodemailer closes the socket when the server answers; if it does not answer
    // within a socket timeout, the socket is closed anyway.
    const unanswered = setTimeout(() => connection.close(), this.config.smtpSocketTimeoutMs);
    unanswered.unref();
    connection.once('end', () => clearTimeout(unanswered));
    connection.quit();
  }

  /** Close this server's pool (e.g. the server was deleted or disabled). */
  async close(serverId: string): Promise<void> {
    const entry = this.pools.get(serverId);
    if (!entry) return;
    this.pools.delete(serverId);
    await this.closeEntry(entry);
  }

  /**
   * Close every pool, for application shutdown and test teardown. Sends in progress, and those
   * waiting for one of the pool's connections, finish first (each within its conversation
   * deadline): a pool closed under them would fail them as connection failures, which the
   * circuit breaker counts against a healthy server. After one deadline the pools close anyway.
   */
  async closeAll(): Promise<void> {
    const entries = [...this.pools.values()];
    this.pools.clear();
    const idle = (entry: PoolEntry): Promise<void> => {
      entry.retired = true;
      if (entry.inFlight === 0) return this.closeEntry(entry);
      return new Promise<void>((resolve) => (entry.whenIdle = resolve));
    };
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, smtpDeadlineMs(this.config))));
    await Promise.race([Promise.all(entries.map(idle)), late]);
    clearTimeout(timer);
    // The pools still busy after the deadline close now (the others already have).
    await Promise.all(entries.map((entry) => this.closeEntry(entry)));
  }

  /**
   * MAIL FROM then RCPT TO the same address, then RSET. A refusal that is about the address
   * (5xx on MAIL FROM or RCPT) is the answer; anything else (4xx, "login required") throws.
   */
  private async probeEnvelope(ctx: SMTPConnectionCustomAuthContext, address: string): Promise<SenderCheck> {
    const mail = await ctx.sendCommand(`MAIL FROM:<${address}>`);
    if (mail.status >= 400) {
      const err = this.replyError(mail.response, 'MAIL FROM');
      if (err.code !== DeliveryErrorCode.SENDER_NOT_VERIFIED) throw err;
      await ctx.sendCommand('RSET');
      return { verified: false, reason: `The server refused MAIL FROM:<${address}>: ${mail.response}` };
    }
    const rcpt = await ctx.sendCommand(`RCPT TO:<${address}>`);
    await ctx.sendCommand('RSET');
    if (rcpt.status >= 400) {
      const err = this.replyError(rcpt.response, 'RCPT TO');
      if (err.code !== DeliveryErrorCode.RECIPIENT_REJECTED && err.code !== DeliveryErrorCode.SENDER_NOT_VERIFIED) throw err;
      return { verified: false, reason: `The server accepted the sender but refused RCPT TO:<${address}>: ${rcpt.response}` };
    }
    return { verified: true };
  }

  /** A refusal during the probe, shaped like nodemailer's own errors for the classifier. */
  private replyError(response: string, command: string): DeliveryError {
    return classifySmtpError(
      Object.assign(new Error('Command failed'), {
        code: 'EENVELOPE',
        response,
        responseCode: Number(/^\d+/.exec(response)?.[0]),
        command,
      }),
    );
  }

  private poolFor(serverId: string, creds: SmtpCredentials): PoolEntry {
    const fingerprint = fingerprintOf(creds);
    const current = this.pools.get(serverId);
    if (current && current.fingerprint === fingerprint && Date.now() - current.createdAt < POOL_REFRESH_MS) return current;
    if (current) {
      // Sends already running on the old pool finish there; it closes once they have.
      current.retired = true;
      if (current.inFlight === 0) void this.closeEntry(current);
    }
    const transporter = checkSmtpDestination(creds.host, this.config).then((destination) =>
      nodemailer.createTransport({ ...this.connectionOptions(creds, destination), ...this.poolOptions() }),
    );
    const entry: PoolEntry = { fingerprint, createdAt: Date.now(), transporter, inFlight: 0, retired: false, sending: 0, turns: [] };
    // A refused or unresolvable host must be looked up again next time, not remembered.
    transporter.catch(() => {
      if (this.pools.get(serverId) === entry) this.pools.delete(serverId);
    });
    this.pools.set(serverId, entry);
    return entry;
  }

  private closeEntry(entry: PoolEntry): Promise<void> {
    entry.retired = true;
    entry.closing ??= entry.transporter.then(
      (transporter) => transporter.close(),
      () => undefined,
    );
    return entry.closing;
  }

  private poolOptions(): Pick<SMTPPoolOptions, 'pool' | 'maxConnections' | 'maxMessages' | 'idleTimeout' | 'maxRequeues'> & { pool: true } {
    return {
      pool: true,
      maxConnections: POOL_CONNECTIONS,
      // SparkPost asks for at most 100 messages per connection (§4.7).
      maxMessages: 100,
      idleTimeout: POOL_IDLE_MS,
      // One requeue covers a pooled session the server dropped just as we used it; more could
      // deliver twice, and the queue layer already retries with backoff.
      maxRequeues: 1,
    };
  }

  /** Options shared by pooled, verify and probe connections. */
  private connectionOptions(creds: SmtpCredentials, destination: CheckedDestination): SMTPTransportOptions {
    const config = this.config;
    const hasLogin = Boolean(creds.username && creds.password);
    return {
      // The checked IP, never the name: a second lookup could answer differently (DNS rebinding).
      host: destination.address,
      port: creds.port,
      servername: destination.servername,
      secure: creds.security === SmtpSecurity.TLS,
      requireTLS: creds.security === SmtpSecurity.STARTTLS,
      ignoreTLS: creds.security === SmtpSecurity.NONE,
      tls: {
        servername: destination.servername,
        rejectUnauthorized: config.tlsRejectUnauthorized ?? true,
      },
      auth: hasLogin ? { user: creds.username ?? '', pass: creds.password ?? '' } : undefined,
      // With credentials, log in even if AUTH is not advertised, rather than silently relaying unauthenticated.
      forceAuth: hasLogin,
      connectionTimeout: config.smtpConnectionTimeoutMs,
      greetingTimeout: config.smtpGreetingTimeoutMs,
      socketTimeout: config.smtpSocketTimeoutMs,
      dnsTimeout: config.smtpConnectionTimeoutMs,
      logger: false,
      debug: false,
    };
  }
}

/** The message in nodemailer's terms; extra headers (a provider's options) follow the message's own. */
function mimeInput(message: OutgoingMessage, extraHeaders: MessageHeader[]): MimeInput {
  return {
    from: message.from,
    to: message.to,
    replyTo: message.replyTo ?? undefined,
    subject: message.subject,
    html: message.html ?? undefined,
    text: message.text ?? undefined,
    headers: [...(message.headers ?? []), ...extraHeaders].map((h) => ({ key: h.name, value: headerValue(h) })),
    messageId: message.messageId,
  };
}
