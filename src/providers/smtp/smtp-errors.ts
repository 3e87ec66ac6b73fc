import { DeliveryErrorCode, TransportKind } from '../provider.enums';
import { DeliveryError, type SmtpStep } from '../delivery-error';
import { TLS_FAILURE_CODES } from '../shared/network-failure';

/**
 * The fields nodemailer puts on its errors (PROVIDERS.md §6.3). Read defensively: anything
 * thrown inside a send can reach the classifier, not only nodemailer's own errors.
 */
interface SmtpErrorFields {
  code?: string;
  originalCode?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  timeoutType?: string;
  message: string;
}

export interface ClassifyOptions {
  /** Secrets (the password) that must never show in the message, even if a server echoed them. */
  redact?: (string | null | undefined)[];
  /** The step to report when nodemailer does not say (e.g. an inactivity timeout mid-send). */
  fallbackStep?: SmtpStep;
}

const THROTTLE_TEXT = /throttl|rate limit|rate exceeded|sending rate|too many|slow down/i;
const QUOTA_TEXT = /quota|credits exceeded|limit exceeded|insufficient (system )?storage/i;
const SENDER_TEXT = /not verified|sender identity|sender (address )?(is )?not (allowed|authori[sz]ed|permitted)/i;
/**
 * The server will not relay for this login, or the login lacks the right to send (SES: "Access
 * denied: User … is not authorized to perform ses:SendRawEmail"): the server's configuration, not
 * the recipient's or the message's fault, and every message would fail the same way.
 */
const RELAY_DENIED_TEXT = /relay(ing)? (access )?(denied|not permitted|prohibited)|not permitted to relay|unable to relay|not authori[sz]ed to perform/i;
/**
 * SES answers the same "not authorized to perform ses:SendRawEmail" when an IAM policy limits which
 * identities the login may send from; the reply then names the resource ("…on resource
 * arn:aws:ses:…:identity/a@b.example"). That is a per-sender limit: other senders still go.
 */
const IDENTITY_RESOURCE_TEXT = /identity\//i;
const NETWORK_CODES = new Set(['ECONNECTION', 'ESOCKET', 'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);
/** Most text of a server reply worth showing a person. */
const MAX_REPLY_CHARS = 300;

function fieldsOf(err: unknown): SmtpErrorFields {
  if (typeof err !== 'object' || err === null) return { message: String(err) };
  const e = err as Record<string, unknown>;
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  return {
    code: str(e.code),
    originalCode: str(e.originalCode),
    responseCode: typeof e.responseCode === 'number' ? e.responseCode : undefined,
    response: str(e.response),
    command: str(e.command),
    timeoutType: str(e.timeoutType),
    message: str(e.message) ?? 'unknown error',
  };
}

/** Which step of the conversation failed, from nodemailer's `command` and error code. */
export function smtpStepOf(f: SmtpErrorFields, fallback?: SmtpStep): SmtpStep | undefined {
  if (f.code === 'EDNS') return 'DNS';
  // Certificate and handshake failures come as ESOCKET with the TLS code kept in originalCode.
  if (f.code === 'ETLS' || f.code === 'EREQUIRETLS' || TLS_FAILURE_CODES.test(f.originalCode ?? '')) return 'TLS';
  const command = (f.command ?? '').toUpperCase();
  if (command.startsWith('AUTH') || f.code === 'EAUTH' || f.code === 'ENOAUTH') return 'AUTH';
  if (command === 'MAIL FROM') return 'MAIL_FROM';
  if (command === 'RCPT TO') return 'RCPT';
  if (command === 'DATA') return 'DATA';
  if (command === 'STARTTLS') return 'TLS';
  if (command === 'EHLO' || command === 'HELO' || command === 'LHLO') return 'GREETING';
  if (f.code === 'ETIMEDOUT') {
    if (f.timeoutType === 'GREETING_TIMEOUT') return 'GREETING';
    if (f.timeoutType === 'UPGRADE_TIMEOUT') return 'TLS';
    // An inactivity timeout can strike at any step; nodemailer does not say which.
    if (f.timeoutType === 'SOCKET_TIMEOUT') return fallback;
    return fallback ?? 'CONNECT';
  }
  // A non-220 greeting is reported as EPROTOCOL on CONN with the server's reply.
  if (f.code === 'EPROTOCOL' && command === 'CONN' && f.responseCode) return 'GREETING';
  if (command === 'CONN') return fallback ?? 'CONNECT';
  return fallback;
}

const STEP_LABEL: Record<SmtpStep, string> = {
  DNS: 'resolving the host',
  CONNECT: 'connecting',
  TLS: 'setting up TLS',
  GREETING: 'the greeting',
  AUTH: 'login',
  MAIL_FROM: 'MAIL FROM',
  RCPT: 'RCPT TO',
  DATA: 'DATA',
};

function redact(text: string, secrets: ClassifyOptions['redact']): string {
  const forms = (secrets ?? []).filter((s): s is string => Boolean(s) && s!.length >= 3).flatMap((s) => [s, Buffer.from(s).toString('base64')]);
  // Longest first: a secret's form can sit inside another's (a password's base64 inside AUTH
  // PLAIN's token when the prefix aligns), and cutting the inner one first leaves the rest.
  forms.sort((a, b) => b.length - a.length);
  return forms.reduce((out, form) => out.split(form).join('[redacted]'), text);
}

function describe(what: string, step: SmtpStep | undefined, f: SmtpErrorFields, options: ClassifyOptions): string {
  // Prefer the server's own reply line: it is what an operator can look up or send to the provider.
  // Redacted before it is shortened: a cut through an echoed secret would leave part of it.
  const detail = redact((f.response ?? f.message).replace(/\s+/g, ' ').trim(), options.redact).slice(0, MAX_REPLY_CHARS);
  const where = step ? ` during ${STEP_LABEL[step]}` : '';
  return `${what}${where}: ${detail}`;
}

/**
 * Turn a nodemailer error into a DeliveryError, following the table in PROVIDERS.md §6.3:
 * 4xx is temporary, 5xx permanent, with the step deciding what was refused.
 */
export function classifySmtpError(err: unknown, options: ClassifyOptions = {}): DeliveryError {
  if (err instanceof DeliveryError) return err.transport ? err : err.withTransport(TransportKind.SMTP);
  const f = fieldsOf(err);
  const step = smtpStepOf(f, options.fallbackStep);
  const make = (code: DeliveryErrorCode, transient: boolean, what: string): DeliveryError =>
    new DeliveryError({
      code,
      transient,
      message: describe(what, step, f, options),
      transport: TransportKind.SMTP,
      smtpResponseCode: f.responseCode,
      smtpStep: step,
    });

  if (f.code === 'EDNS') return make(DeliveryErrorCode.CONNECTION_FAILED, true, 'The SMTP host could not be resolved');
  if (f.code === 'ETIMEDOUT') return make(DeliveryErrorCode.TIMEOUT, true, 'The SMTP server did not answer in time');
  // Our own deadline on the whole conversation (smtpDeadlineMs): the server may have the message.
  if (f.code === 'EABORT') return make(DeliveryErrorCode.TIMEOUT, true, 'The SMTP server did not finish in time');
  if (f.code === 'ETLS' || f.code === 'EREQUIRETLS' || TLS_FAILURE_CODES.test(f.originalCode ?? '')) {
    return make(DeliveryErrorCode.CONNECTION_FAILED, true, 'The TLS connection to the SMTP server failed');
  }

  const reply = f.response ?? '';
  const rc = f.responseCode;
  if (rc && rc >= 400 && rc < 500) {
    if (QUOTA_TEXT.test(reply)) return make(DeliveryErrorCode.QUOTA_EXCEEDED, true, 'The SMTP server reports a quota limit');
    if (THROTTLE_TEXT.test(reply)) return make(DeliveryErrorCode.THROTTLED, true, 'The SMTP server is throttling');
    return make(DeliveryErrorCode.PROVIDER_ERROR, true, 'The SMTP server refused temporarily');
  }
  if (rc && rc >= 500) {
    if (step === 'AUTH') return make(DeliveryErrorCode.AUTH_FAILED, false, 'The SMTP login was refused');
    // 530 at MAIL FROM: the server wants something before mail (RFC 4954 / RFC 3207).
    if (rc === 530 && /STARTTLS/i.test(reply)) return make(DeliveryErrorCode.CONNECTION_FAILED, false, 'The SMTP server requires TLS');
    if (rc === 530 || /authentication required/i.test(reply)) return make(DeliveryErrorCode.AUTH_FAILED, false, 'The SMTP server requires a login');
    if (RELAY_DENIED_TEXT.test(reply)) {
      if (IDENTITY_RESOURCE_TEXT.test(reply)) return make(DeliveryErrorCode.SENDER_NOT_VERIFIED, false, 'This login may not send from this sender');
      return make(DeliveryErrorCode.AUTH_FAILED, false, 'The SMTP server does not let this login send');
    }
    if (SENDER_TEXT.test(reply)) return make(DeliveryErrorCode.SENDER_NOT_VERIFIED, false, 'The sender is not verified');
    switch (step) {
      case 'MAIL_FROM':
        // 552 on MAIL FROM is "message size exceeds fixed limit", not a sender problem.
        return rc === 552
          ? make(DeliveryErrorCode.MESSAGE_REJECTED, false, 'The message was refused')
          : make(DeliveryErrorCode.SENDER_NOT_VERIFIED, false, 'The sender was refused');
      case 'RCPT':
        return make(DeliveryErrorCode.RECIPIENT_REJECTED, false, 'The recipient was refused');
      case 'DATA':
        return make(DeliveryErrorCode.MESSAGE_REJECTED, false, 'The message was refused');
      case 'GREETING':
      case 'CONNECT':
      case 'TLS':
      case 'DNS':
        return make(DeliveryErrorCode.CONNECTION_FAILED, false, 'The SMTP server refused the session');
      case undefined:
        return make(DeliveryErrorCode.PROVIDER_ERROR, false, 'The SMTP server refused');
    }
  }

  // No reply code: client-side or network failures.
  if (f.code === 'EAUTH' || f.code === 'ENOAUTH') return make(DeliveryErrorCode.AUTH_FAILED, false, 'The SMTP login failed');
  if (NETWORK_CODES.has(f.code ?? '') || NETWORK_CODES.has(f.originalCode ?? '')) {
    return make(DeliveryErrorCode.CONNECTION_FAILED, true, 'The connection to the SMTP server failed');
  }
  if (f.code === 'EENVELOPE' && /recipient/i.test(f.message)) {
    return make(DeliveryErrorCode.RECIPIENT_REJECTED, false, 'The recipient address is invalid');
  }
  if (f.code === 'EENVELOPE' || f.code === 'EMESSAGE') return make(DeliveryErrorCode.MESSAGE_REJECTED, false, 'The message could not be sent');
  return make(DeliveryErrorCode.PROVIDER_ERROR, true, 'Sending over SMTP failed');
}
