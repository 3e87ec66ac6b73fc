import { DeliveryError, parseRetryAfter } from '../delivery-error';
import { DeliveryErrorCode, TransportKind } from '../provider.enums';
import { scrub } from '../shared/adapter-helpers';

/** One entry of SparkPost's documented error body `{"errors":[{message, description, code}]}`. */
export interface SparkPostApiError {
  message: string;
  description?: string;
  code?: string;
}

/** What the classifier needs from an HTTP reply (kept independent of fetch for unit tests). */
export interface SparkPostReply {
  status: number;
  json: unknown;
  text: string;
  retryAfter?: string | null;
}

/** `send` failures default to "message rejected"; other calls to "provider error". */
export type SparkPostOperation = 'send' | 'account' | 'sending-domain' | 'webhooks';

/** Reads the errors array tolerantly: codes may come as numbers, fields may be missing. */
export function readSparkPostErrors(json: unknown): SparkPostApiError[] {
  if (!isRecord(json) || !Array.isArray(json.errors)) return [];
  return json.errors.filter(isRecord).map((e) => ({
    message: typeof e.message === 'string' ? e.message : '',
    description: typeof e.description === 'string' ? e.description : undefined,
    code: typeof e.code === 'string' || typeof e.code === 'number' ? String(e.code) : undefined,
  }));
}

// Codes from SparkPost's API reference (index.apib / transmissions.apib).
const SENDING_DOMAIN_CODES = new Set(['7001']);
const SENDING_LIMIT_CODES = new Set(['2101', '2102', '2103', '2104']);
const POLICY_CODES = new Set(['1901', '1902', '1903']);

/**
 * SparkPost's HTTP failure → the contract's DeliveryError. Order matters: status-level meanings
 * (auth, rate limit, limits, 5xx) win over wording; then the documented codes; then wording,
 * because SparkPost reuses 400/422 for sender, recipient and content problems alike.
 * `secret` (the API key) is scrubbed from the message in case a reply ever echoes it.
 */
export function classifySparkPostError(reply: SparkPostReply, op: SparkPostOperation, secret?: string): DeliveryError {
  const errors = readSparkPostErrors(reply.json);
  const codes = new Set(errors.map((e) => e.code).filter((c): c is string => !!c));
  const wording = errors.map((e) => `${e.message} ${e.description ?? ''}`).join(' ').toLowerCase();
  // Scrubbed before describe shortens it: a cut through an echoed key would leave part of it.
  const detail = scrub(describe(errors, scrub(reply.text, secret), secret), secret);
  const status = reply.status;
  const make = (code: DeliveryErrorCode, transient: boolean, message: string, retryAfterMs?: number) =>
    new DeliveryError({
      code,
      transient,
      message: scrub(message, secret),
      transport: TransportKind.API,
      providerStatus: status,
      retryAfterMs,
    });

  if (status === 401) {
    return make(DeliveryErrorCode.AUTH_FAILED, false, `SparkPost did not accept the API key (401${detail})`);
  }
  if (status === 403) {
    return make(
      DeliveryErrorCode.AUTH_FAILED,
      false,
      `The SparkPost API key lacks the permission for this call (403${detail}); grant it in SparkPost → API Keys`,
    );
  }
  if (status === 429) {
    return make(
      DeliveryErrorCode.THROTTLED,
      true,
      `SparkPost is rate limiting requests (429${detail})`,
      parseRetryAfter(reply.retryAfter),
    );
  }
  // 420 is SparkPost's own "sending limit reached"; the sandbox limit is for the account's
  // lifetime, the hourly/daily/monthly ones reset, so only those are worth retrying.
  if (status === 420 || [...codes].some((c) => SENDING_LIMIT_CODES.has(c)) || /exceed.*limit|quota/.test(wording)) {
    const sandbox = wording.includes('sandbox');
    return make(DeliveryErrorCode.QUOTA_EXCEEDED, !sandbox, `SparkPost sending limit reached (${status}${detail})`);
  }
  if (status >= 500) {
    return make(DeliveryErrorCode.PROVIDER_ERROR, true, `SparkPost had a server error (${status}${detail})`);
  }
  if ([...codes].some((c) => SENDING_DOMAIN_CODES.has(c)) || /sending domain|invalid domain/.test(wording)) {
    return make(
      DeliveryErrorCode.SENDER_NOT_VERIFIED,
      false,
      `SparkPost refused the sender: its domain is not a verified sending domain (${status}${detail})`,
    );
  }
  if (/recipient/.test(wording)) {
    return make(DeliveryErrorCode.RECIPIENT_REJECTED, false, `SparkPost rejected the recipient (${status}${detail})`);
  }
  if ([...codes].some((c) => POLICY_CODES.has(c)) || /policy|content|generation/.test(wording) || op === 'send') {
    return make(DeliveryErrorCode.MESSAGE_REJECTED, false, `SparkPost rejected the message (${status}${detail})`);
  }
  return make(DeliveryErrorCode.PROVIDER_ERROR, false, `SparkPost refused the request (${status}${detail})`);
}

/** ": Invalid domain — Unconfigured or unverified sending domain. [7001]", short and readable. */
function describe(errors: SparkPostApiError[], text: string, secret?: string): string {
  const parts = errors.map((e) =>
    scrub([e.message, e.description].filter(Boolean).join(' — '), secret) + (e.code ? ` [${e.code}]` : ''),
  );
  const body = parts.length ? parts.join('; ') : text.trim();
  return body ? `: ${truncate(body, 300)}` : '';
}


function truncate(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
