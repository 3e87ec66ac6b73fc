import { DeliveryError, parseRetryAfter } from '../delivery-error';
import { DeliveryErrorCode, TransportKind } from '../provider.enums';
import { scrub } from '../shared/adapter-helpers';

/** What the classifier needs from an HTTP reply (kept independent of fetch for unit tests). */
export interface ElasticEmailReply {
  status: number;
  json: unknown;
  text: string;
  retryAfter?: string | null;
}

export type ElasticEmailOperation = 'send' | 'account' | 'domain' | 'webhooks';

/**
 * The v4 error body is not documented (PROVIDERS.md §5.2, UNCONFIRMED): most likely
 * `{"Error":"..."}`, but the legacy v2 shape `{"success":false,"error":"..."}` and plain text
 * are possible too, so read every plausible field and fall back to the raw text.
 */
export function readElasticEmailError(json: unknown, text: string): string {
  if (typeof json === 'string') return json;
  if (typeof json === 'object' && json !== null && !Array.isArray(json)) {
    const r = json as Record<string, unknown>;
    for (const key of ['Error', 'error', 'Message', 'message', 'ErrorMessage', 'title', 'detail']) {
      const v = r[key];
      if (typeof v === 'string' && v.trim()) return v.trim();
      if (typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>).message === 'string') {
        return String((v as Record<string, unknown>).message);
      }
    }
    // ASP.NET-style validation problem: {"errors":{"Field":["msg", ...]}}
    if (typeof r.errors === 'object' && r.errors !== null) {
      const msgs = Object.values(r.errors as Record<string, unknown>).flat().filter((m) => typeof m === 'string');
      if (msgs.length) return msgs.join('; ');
    }
  }
  return text.trim().startsWith('<') ? '' : text.trim();
}

/** The v2 API (and maybe proxies) answer failures with HTTP 200 and `success: false`. */
export function isSoftFailure(json: unknown): boolean {
  return typeof json === 'object' && json !== null && (json as Record<string, unknown>).success === false;
}

const AUTH = /access denied|incorrect api ?key|invalid api ?key|api ?key (is )?(invalid|not found|expired)|unauthori[sz]ed/;
/** Wording that says the key itself is wrong (as opposed to lacking an access level). */
export const BAD_KEY = /incorrect api ?key|invalid api ?key|api ?key (is )?(invalid|not found|expired)/;
const SENDER = /not verified|unverified|verify (your )?(domain|sender|email)|domain.*(verif|not allowed|not found)|sender|from (address|email|domain)/;
const QUOTA = /quota|credit|insufficient|limit (has been )?(reached|exceeded)|exceeded.*limit|daily limit|monthly limit|upgrade/;
const THROTTLE = /too many|concurrent|rate limit|slow down/;
const RECIPIENT = /recipient|invalid (email|address)|to address|no valid/;
const CONTENT = /content|spam|policy|blocked|body|subject|attachment|template/;

/**
 * Elastic Email's HTTP failure → the contract's DeliveryError. Status decides where it is
 * unambiguous (401/403, 429, 5xx); otherwise the wording decides, because the documented
 * statuses per failure are unconfirmed. `secret` (the API key) is scrubbed from the message.
 */
export function classifyElasticEmailError(
  reply: ElasticEmailReply,
  op: ElasticEmailOperation,
  secret?: string,
): DeliveryError {
  // Scrubbed before it is shortened: a cut through an echoed key would leave part of it.
  const said = scrub(readElasticEmailError(reply.json, reply.text), secret);
  const wording = said.toLowerCase();
  const detail = said ? `: ${said.length > 300 ? `${said.slice(0, 300)}…` : said}` : '';
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

  // 403 first: "Access denied" there usually means a missing access level, not a bad key.
  if (status === 403 && !BAD_KEY.test(wording)) {
    return make(
      DeliveryErrorCode.AUTH_FAILED,
      false,
      `The Elastic Email API key lacks the access level for this call (403${detail}); edit the key under Settings → Manage API Keys`,
    );
  }
  if (status === 401 || status === 403 || AUTH.test(wording)) {
    return make(DeliveryErrorCode.AUTH_FAILED, false, `Elastic Email did not accept the API key (${status}${detail})`);
  }
  if (status === 429 || THROTTLE.test(wording)) {
    return make(
      DeliveryErrorCode.THROTTLED,
      true,
      `Elastic Email is limiting requests (${status}${detail})`,
      parseRetryAfter(reply.retryAfter),
    );
  }
  if (status >= 500) {
    return make(DeliveryErrorCode.PROVIDER_ERROR, true, `Elastic Email had a server error (${status}${detail})`);
  }
  if (QUOTA.test(wording)) {
    return make(DeliveryErrorCode.QUOTA_EXCEEDED, false, `Elastic Email account limit reached (${status}${detail})`);
  }
  if (SENDER.test(wording)) {
    return make(
      DeliveryErrorCode.SENDER_NOT_VERIFIED,
      false,
      `Elastic Email refused the sender; verify its domain under Settings → Domains (${status}${detail})`,
    );
  }
  if (RECIPIENT.test(wording)) {
    return make(DeliveryErrorCode.RECIPIENT_REJECTED, false, `Elastic Email rejected the recipient (${status}${detail})`);
  }
  if (CONTENT.test(wording) || op === 'send') {
    return make(DeliveryErrorCode.MESSAGE_REJECTED, false, `Elastic Email rejected the message (${status}${detail})`);
  }
  return make(DeliveryErrorCode.PROVIDER_ERROR, false, `Elastic Email refused the request (${status}${detail})`);
}
