import { DeliveryError, parseRetryAfter } from '../delivery-error';
import { DeliveryErrorCode, TransportKind } from '../provider.enums';
import { apiNetworkFailure } from '../shared/network-failure';

/** One failed SES/SNS call, independent of the SDK: an answer (status, code, message) or a network failure. */
export interface SesFailure {
  status?: number;
  /** AWS error code (x-amzn-ErrorType / __type / the SDK exception name), sanitised or not. */
  code?: string;
  message?: string;
  retryAfter?: string | null;
  /** Node/SDK error code or name when no HTTP answer came back. */
  networkCode?: string;
}

export interface SesErrorContext {
  /** Redacted from anything quoted (access key id, secret). */
  secrets: string[];
  /** The From of the message being sent, to tell an unverified sender from an unverified (sandbox) recipient. */
  from?: string;
  now?: number;
}

const AUTH_CODES = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'InvalidClientTokenId',
  'MissingAuthenticationToken',
  'MissingAuthenticationTokenException',
  'IncompleteSignature',
  'ExpiredToken',
  'ExpiredTokenException',
  'AccessDeniedException',
  'AccessDenied',
  'AuthorizationError', // SNS
  'InvalidSecurity', // SNS
]);
const THROTTLE_CODES = new Set([
  'TooManyRequestsException',
  'LimitExceededException',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'RequestLimitExceeded',
]);
const TIMEOUT_CODES = new Set([
  'TimeoutError',
  'ETIMEDOUT',
  'RequestTimeout',
  'RequestTimeoutException',
  'ECONNABORTED',
]);

/**
 * The SDK's own code sanitising (PROVIDERS.md §1.3): cut at ',' and ':', keep what follows '#'.
 * `UnrecognizedClientException:http://internal.amazon.com/...` → `UnrecognizedClientException`.
 */
export function sanitizeAwsErrorCode(raw: string): string {
  let code = raw.split(',')[0].split(':')[0];
  if (code.includes('#')) code = code.split('#')[1];
  return code.trim();
}

/** The SES (and SNS) classification table. */
export function classifySesFailure(failure: SesFailure, ctx: SesErrorContext): DeliveryError {
  const make = (code: DeliveryErrorCode, transient: boolean, message: string, retryAfterMs?: number): DeliveryError =>
    new DeliveryError({
      code,
      transient,
      message: redact(message, ctx.secrets),
      transport: TransportKind.API,
      providerStatus: failure.status,
      retryAfterMs,
    });

  const code = failure.code ? sanitizeAwsErrorCode(failure.code) : '';
  const text = (failure.message ?? '').trim();
  const said = text ? `: ${text}` : '';
  const status = failure.status;

  if (status === undefined) {
    const net = failure.networkCode ?? code;
    const lost = apiNetworkFailure('Amazon SES', net, TIMEOUT_CODES);
    return make(lost.code, true, lost.message);
  }

  if (AUTH_CODES.has(code) || ((status === 401 || status === 403) && !code)) {
    return make(DeliveryErrorCode.AUTH_FAILED, false, `Amazon SES rejected the credentials${said}`);
  }
  if (/quota/i.test(text)) {
    // "Daily message quota exceeded.": resets within 24 h, so retrying later can succeed.
    return make(
      DeliveryErrorCode.QUOTA_EXCEEDED,
      true,
      `Amazon SES sending quota exceeded${said}`,
      parseRetryAfter(failure.retryAfter, ctx.now),
    );
  }
  if (THROTTLE_CODES.has(code) || status === 429) {
    return make(
      DeliveryErrorCode.THROTTLED,
      true,
      `Amazon SES is throttling this account${said}`,
      parseRetryAfter(failure.retryAfter, ctx.now),
    );
  }
  if (code === 'MessageRejected') {
    if (/not verified/i.test(text)) {
      // Sandbox accounts also reject unverified *recipients* with the same words; the failed
      // identities are listed after the colon, so look whether our sender is among them.
      const failed = text
        .split(':')
        .slice(1)
        .join(':')
        .toLowerCase()
        .split(/[\s,]+/)
        .map((t) => t.replace(/[.;]+$/, ''))
        .filter(Boolean);
      const from = bareAddress(ctx.from ?? '');
      const fromDomain = from.split('@')[1] ?? '';
      const senderFailed = !from || failed.length === 0 || failed.includes(from) || failed.includes(fromDomain);
      return senderFailed
        ? make(DeliveryErrorCode.SENDER_NOT_VERIFIED, false, `Amazon SES refused the sender${said}`)
        : make(
            DeliveryErrorCode.RECIPIENT_REJECTED,
            false,
            `Amazon SES refused the recipient (sandbox account)${said}`,
          );
    }
    return make(DeliveryErrorCode.MESSAGE_REJECTED, false, `Amazon SES rejected the message${said}`);
  }
  if (code === 'MailFromDomainNotVerifiedException') {
    return make(
      DeliveryErrorCode.SENDER_NOT_VERIFIED,
      false,
      `The MAIL FROM domain is not verified in Amazon SES${said}`,
    );
  }
  if (code === 'SendingPausedException' || code === 'AccountSuspendedException') {
    // Sending is switched off for the account or configuration set: a person has to act.
    return make(DeliveryErrorCode.PROVIDER_ERROR, false, `Amazon SES sending is paused for this account${said}`);
  }
  if (
    status >= 500 ||
    code === 'InternalServiceErrorException' ||
    code === 'InternalError' ||
    code === 'ServiceUnavailable'
  ) {
    return make(DeliveryErrorCode.PROVIDER_ERROR, true, `Amazon SES had a server error (${status})${said}`);
  }
  if (code === 'BadRequestException' || code === 'InvalidParameterValue' || code === 'ValidationError') {
    return make(DeliveryErrorCode.MESSAGE_REJECTED, false, `Amazon SES rejected the request${said}`);
  }
  // NotFoundException (e.g. a configuration set that is gone), ConflictException and other
  // 4xx: configuration problems that a retry will not fix.
  return make(DeliveryErrorCode.PROVIDER_ERROR, false, `Amazon SES refused the request (${code || status})${said}`);
}

const ERRNO_IN_MESSAGE = /\b(E[A-Z]{3,}|UND_ERR_[A-Z_]+)\b/;

/**
 * Map what the AWS SDK v3 threw to a DeliveryError. Service errors carry `name` (the code),
 * `message` and `$metadata.httpStatusCode`; network errors carry `code`/`name` and no status.
 */
export function sesErrorFrom(err: unknown, ctx: SesErrorContext): DeliveryError {
  if (err instanceof DeliveryError) return err;
  if (!isRecord(err)) return classifySesFailure({ networkCode: '' }, ctx);
  const metadata = isRecord(err.$metadata) ? err.$metadata : {};
  const status = typeof metadata.httpStatusCode === 'number' ? metadata.httpStatusCode : undefined;
  const name = typeof err.name === 'string' ? err.name : '';
  const message = typeof err.message === 'string' ? err.message : '';
  if (status === undefined) {
    // A Node network error from another realm (jest's sandbox) reaches us wrapped by the SDK,
    // with its code only in the message: "AWS SDK error wrapper for Error: connect ECONNREFUSED …".
    const networkCode = typeof err.code === 'string' ? err.code : (ERRNO_IN_MESSAGE.exec(message)?.[1] ?? name);
    return classifySesFailure({ networkCode }, ctx);
  }
  return classifySesFailure({ status, code: name, message, retryAfter: headerOf(err.$response, 'retry-after') }, ctx);
}

function headerOf(response: unknown, name: string): string | undefined {
  if (!isRecord(response) || !isRecord(response.headers)) return undefined;
  for (const [k, v] of Object.entries(response.headers))
    if (k.toLowerCase() === name && typeof v === 'string') return v;
  return undefined;
}

export function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}

function bareAddress(address: string): string {
  const m = /<([^>]+)>/.exec(address);
  return (m ? m[1] : address).trim().toLowerCase();
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}
