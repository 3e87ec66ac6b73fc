import { DeliveryError, parseRetryAfter } from '../delivery-error';
import { DeliveryErrorCode, TransportKind } from '../provider.enums';
import { apiNetworkFailure } from '../shared/network-failure';

/**
 * What we know about one failed SendGrid call, independent of the SDK that made it:
 * either the API answered (status, body, headers) or the network failed (networkCode).
 */
export interface SendGridFailure {
  status?: number;
  /** Parsed error body, normally `{"errors":[{"message","field","help"}]}`. */
  body?: unknown;
  headers?: Record<string, unknown>;
  /** Node/axios error code when no HTTP answer came back (ECONNREFUSED, ECONNABORTED…). */
  networkCode?: string;
  /** The SDK refused the message before sending it (helper validation, a header Node won't send). */
  localError?: string;
}

interface SendGridApiError {
  message: string;
  field: string | null;
}

const TIMEOUT_CODES = new Set(['ECONNABORTED', 'ETIMEDOUT', 'ERR_CANCELED', 'ESOCKETTIMEDOUT']);
// @sendgrid/mail also sends the message's custom headers as HTTP request headers. axios 1.x
// strips characters Node would refuse, but should a header still fail locally, the message is
// at fault, not the network.
const INVALID_HEADER_CODES = new Set(['ERR_INVALID_CHAR', 'ERR_INVALID_HTTP_TOKEN']);

/** Pull `errors[]` out of a SendGrid error body, tolerating other shapes. */
export function sendGridApiErrors(body: unknown): SendGridApiError[] {
  if (!isRecord(body) || !Array.isArray(body.errors)) return [];
  return body.errors.filter(isRecord).map((e) => ({
    message: typeof e.message === 'string' ? e.message : '',
    field: typeof e.field === 'string' ? e.field : null,
  }));
}

/**
 * The SendGrid classification table (PROVIDERS.md §2.2/§2.3). `secrets` are redacted from
 * any provider text we quote, so a key echoed back by a proxy never reaches a log.
 */
export function classifySendGridFailure(failure: SendGridFailure, secrets: string[], now = Date.now()): DeliveryError {
  const make = (code: DeliveryErrorCode, transient: boolean, message: string, retryAfterMs?: number): DeliveryError =>
    new DeliveryError({
      code,
      transient,
      message: redact(message, secrets),
      transport: TransportKind.API,
      providerStatus: failure.status,
      retryAfterMs,
    });

  if (failure.localError !== undefined) {
    return make(
      DeliveryErrorCode.MESSAGE_REJECTED,
      false,
      `The SendGrid client refused the message: ${failure.localError}`,
    );
  }
  if (failure.status === undefined) {
    const net = failure.networkCode ?? '';
    if (INVALID_HEADER_CODES.has(net)) {
      return make(DeliveryErrorCode.MESSAGE_REJECTED, false, 'A custom header holds characters that cannot be sent');
    }
    const lost = apiNetworkFailure('SendGrid', net, TIMEOUT_CODES);
    return make(lost.code, true, lost.message);
  }

  const status = failure.status;
  const errors = sendGridApiErrors(failure.body);
  const text = errors
    .map((e) => e.message)
    .filter(Boolean)
    .join('; ');
  const said = text ? `: ${text}` : '';
  const fields = errors.map((e) => e.field ?? '');

  if (/credits? exceeded|quota/i.test(text)) {
    // SendGrid answers 401 "Maximum credits exceeded" when the plan's credits run out: not a bad key.
    return make(DeliveryErrorCode.QUOTA_EXCEEDED, true, `SendGrid sending quota exhausted${said}`);
  }
  if (status === 429) {
    return make(
      DeliveryErrorCode.THROTTLED,
      true,
      `SendGrid rate limit reached${said}`,
      retryAfterFrom(failure.headers, now),
    );
  }
  if (status === 401) {
    return make(DeliveryErrorCode.AUTH_FAILED, false, `SendGrid rejected the API key${said}`);
  }
  if (status === 403) {
    if (fields.includes('from') || /sender identity|verified sender/i.test(text)) {
      return make(DeliveryErrorCode.SENDER_NOT_VERIFIED, false, `SendGrid refused the sender${said}`);
    }
    // A valid key without the needed scope (e.g. mail.send): fix the key, not the message.
    return make(DeliveryErrorCode.AUTH_FAILED, false, `The SendGrid API key lacks a permission${said}`);
  }
  if (status >= 500) {
    return make(DeliveryErrorCode.PROVIDER_ERROR, true, `SendGrid had a server error (${status})${said}`);
  }
  if (status === 400 || status === 413) {
    if (fields.some((f) => /^personalizations(\.\d+)?\.(to|cc|bcc)/.test(f))) {
      return make(DeliveryErrorCode.RECIPIENT_REJECTED, false, `SendGrid rejected the recipient${said}`);
    }
    if (fields.some((f) => f === 'from' || f.startsWith('from.'))) {
      return make(DeliveryErrorCode.SENDER_NOT_VERIFIED, false, `SendGrid rejected the sender${said}`);
    }
    return make(DeliveryErrorCode.MESSAGE_REJECTED, false, `SendGrid rejected the message${said}`);
  }
  // 404, 405, 451 (data-residency mismatch) and the like: a configuration problem; retrying won't help.
  return make(DeliveryErrorCode.PROVIDER_ERROR, false, `SendGrid refused the request (${status})${said}`);
}

/**
 * Map whatever @sendgrid/client threw (ResponseError with `code` = HTTP status and
 * `response.{headers, body}`, or a raw axios/network error) to a DeliveryError.
 */
export function sendGridErrorFrom(err: unknown, secrets: string[]): DeliveryError {
  if (err instanceof DeliveryError) return err;
  if (isRecord(err)) {
    const response = err.response;
    if (typeof err.code === 'number' && isRecord(response)) {
      return classifySendGridFailure(
        { status: err.code, body: response.body, headers: isRecord(response.headers) ? response.headers : undefined },
        secrets,
      );
    }
    // axios errors that did get an answer but were not turned into a ResponseError (status < 400).
    if (isRecord(response) && typeof response.status === 'number') {
      return classifySendGridFailure({ status: response.status, body: response.data }, secrets);
    }
    if (typeof err.code === 'string') return classifySendGridFailure({ networkCode: err.code }, secrets);
    // No status and no errno code: the helper's own validation ("Expected `to` to be …").
    if (err instanceof Error && err.message) return classifySendGridFailure({ localError: err.message }, secrets);
  }
  return classifySendGridFailure({ networkCode: '' }, secrets);
}

function retryAfterFrom(headers: Record<string, unknown> | undefined, now: number): number | undefined {
  if (!headers) return undefined;
  const get = (name: string): string | undefined => {
    for (const [k, v] of Object.entries(headers))
      if (k.toLowerCase() === name) return v === undefined ? undefined : String(v);
    return undefined;
  };
  const fromHeader = parseRetryAfter(get('retry-after'), now);
  if (fromHeader !== undefined) return fromHeader;
  // SendGrid documents X-RateLimit-Reset (epoch seconds) rather than Retry-After.
  const reset = Number(get('x-ratelimit-reset'));
  return Number.isFinite(reset) && reset > 0 ? Math.max(0, reset * 1000 - now) : undefined;
}

export function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}
