import { DeliveryError } from '../delivery-error';
import { DeliveryErrorCode, TransportKind } from '../provider.enums';
import { apiNetworkFailure } from '../shared/network-failure';

/**
 * One failed Mailgun call as mailgun.js reports it (`APIError {status, message, details}`):
 * `message` is the HTTP status text (or body.error), `details` the body's `message` or the
 * plain-text body (401 → "Forbidden"). mailgun.js keeps no response headers.
 */
export interface MailgunFailure {
  status?: number;
  statusText?: string;
  details?: string;
  /** Network error code when no answer came back. */
  networkCode?: string;
  /** mailgun.js refused the input before making a request (a plain Error, e.g. building the form). */
  localError?: string;
}

const TIMEOUT_CODES = new Set([
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ERR_CANCELED',
  'TimeoutError',
  'AbortError',
]);
// mailgun.js reports a failed connection as status 400 with the errno code as status text.
const NETWORK_CODE = /^(E[A-Z]+|ERR_[A-Z_]+|TimeoutError|AbortError)$/;

export function classifyMailgunFailure(failure: MailgunFailure, secrets: string[], now = Date.now()): DeliveryError {
  const make = (code: DeliveryErrorCode, transient: boolean, message: string, retryAfterMs?: number): DeliveryError =>
    new DeliveryError({
      code,
      transient,
      message: redact(message, secrets),
      transport: TransportKind.API,
      providerStatus: failure.networkCode ? undefined : failure.status,
      retryAfterMs,
    });

  if (failure.localError !== undefined) {
    return make(DeliveryErrorCode.MESSAGE_REJECTED, false, `The Mailgun client refused the request: ${failure.localError}`);
  }
  if (failure.networkCode !== undefined || failure.status === undefined) {
    const net = failure.networkCode ?? '';
    const lost = apiNetworkFailure('Mailgun', net, TIMEOUT_CODES);
    return make(lost.code, true, lost.message);
  }

  const status = failure.status;
  const text = (failure.details ?? '').trim();
  const said = text ? `: ${text}` : '';

  if (status === 401) {
    // Also what a US key gets on the EU host and vice versa.
    return make(
      DeliveryErrorCode.AUTH_FAILED,
      false,
      `Mailgun rejected the API key (check the key and the account region)${said}`,
    );
  }
  if (status === 420 || /limit exceeded|quota/i.test(text)) {
    return make(
      DeliveryErrorCode.QUOTA_EXCEEDED,
      true,
      `Mailgun sending limit reached${said}`,
      tryAgainAfter(text, now),
    );
  }
  if (status === 429) {
    return make(DeliveryErrorCode.THROTTLED, true, `Mailgun rate limit reached${said}`);
  }
  if (status === 403) {
    if (/not allowed to send|sandbox|not verified|unverified|disabled/i.test(text)) {
      return make(DeliveryErrorCode.SENDER_NOT_VERIFIED, false, `Mailgun refused the sending domain${said}`);
    }
    return make(DeliveryErrorCode.AUTH_FAILED, false, `The Mailgun API key may not do this${said}`);
  }
  if (status === 404 && /domain not found/i.test(text)) {
    return make(
      DeliveryErrorCode.SENDER_NOT_VERIFIED,
      false,
      `The sending domain is not in this Mailgun account${said}`,
    );
  }
  if (status >= 500) {
    return make(DeliveryErrorCode.PROVIDER_ERROR, true, `Mailgun had a server error (${status})${said}`);
  }
  if (status === 400 || status === 413) {
    if (/'to'|\bto\b parameter|recipient/i.test(text)) {
      return make(DeliveryErrorCode.RECIPIENT_REJECTED, false, `Mailgun rejected the recipient${said}`);
    }
    return make(DeliveryErrorCode.MESSAGE_REJECTED, false, `Mailgun rejected the message${said}`);
  }
  // 402 "request failed", other 404s…: configuration problems a retry won't fix.
  return make(DeliveryErrorCode.PROVIDER_ERROR, false, `Mailgun refused the request (${status})${said}`);
}

/** Map what mailgun.js threw (APIError, or a plain Error for bad input) to a DeliveryError. */
export function mailgunErrorFrom(err: unknown, secrets: string[]): DeliveryError {
  if (err instanceof DeliveryError) return err;
  if (!isRecord(err)) return classifyMailgunFailure({ networkCode: '' }, secrets);
  const status = typeof err.status === 'number' ? err.status : undefined;
  const statusText = typeof err.message === 'string' ? err.message : '';
  const details =
    typeof err.details === 'string' ? err.details : isRecord(err.details) ? JSON.stringify(err.details) : '';
  if ((status === 400 || status === undefined) && NETWORK_CODE.test(statusText))
    return classifyMailgunFailure({ networkCode: statusText }, secrets);
  if (status === undefined) {
    // mailgun.js wraps every failure of the request itself (axios's, network or HTTP) in an
    // APIError with a status. An Error with neither status nor code was thrown before the
    // request (checking the input, building the form): nothing was sent, and a retry fails alike.
    if (!('code' in err) && err instanceof Error) return classifyMailgunFailure({ localError: err.message }, secrets);
    const code = typeof err.code === 'string' ? err.code : '';
    return classifyMailgunFailure({ networkCode: code }, secrets);
  }
  return classifyMailgunFailure({ status, statusText, details }, secrets);
}

/** Mailgun's 420 says "try again after Mon, 25 Aug 2025 07:00:31 UTC". */
function tryAgainAfter(text: string, now: number): number | undefined {
  const m = /try again after (.+?)\s*$/i.exec(text);
  if (!m) return undefined;
  const at = Date.parse(m[1]);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}
