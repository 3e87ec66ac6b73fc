import { createPublicKey, type KeyObject } from 'node:crypto';
import { DeliveryError } from '../delivery-error';
import { DeliveryErrorCode, TransportKind } from '../provider.enums';

/**
 * The hosts SNS signs from: sns.<region>.amazonaws.com (.com.cn in China), the region shaped as
 * AWS names them (us-east-1, us-gov-west-1, cn-northwest-1, us-isob-east-1). SNS_CERT_URL_PATTERN's
 * default admits any sns.<label>.amazonaws.com, which also names hosts that are no SNS endpoint
 * (S3's legacy sns.s3-external-1.amazonaws.com is the bucket "sns"), so an amazonaws.com host must
 * be one of these as well.
 */
export const SNS_REGIONAL_HOST = /^sns\.[a-z]{2}(-[a-z]+)+-\d{1,2}\.amazonaws\.com(\.cn)?$/;
const AMAZONAWS_HOST = /(^|\.)amazonaws\.com(\.cn)?$/;

/** Signing certificates kept, most recently used first out last: SNS uses one per region at a time. */
export const SNS_CERTIFICATE_CACHE_SIZE = 50;
/** A real SNS certificate is under 2 KB. */
const MAX_CERTIFICATE_BYTES = 64 * 1024;

export interface SnsCertificateTrust {
  /** SNS_CERT_URL_PATTERN: which SigningCertURLs are trusted, tested against the normalised URL. */
  pattern?: RegExp;
  /** The SNS API the app talks to (SNS_ENDPOINT): its own origin may serve certificates (tests, SNS-compatible endpoints). */
  snsEndpoint?: string;
}

/**
 * The SigningCertURL as the URL to fetch, or null when it must not be fetched: not a URL, not a
 * .pem, carrying credentials, or on a host that is neither the configured SNS endpoint nor an SNS
 * host (SNS_CERT_URL_PATTERN, and for amazonaws.com hosts the SNS regional shape).
 */
export function trustedCertificateUrl(raw: string, trust: SnsCertificateTrust): URL | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.username || url.password || !url.pathname.endsWith('.pem')) return null;
  if (trust.snsEndpoint && originOf(trust.snsEndpoint) === url.origin) return url;
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  const pattern = trust.pattern ?? DEFAULT_CERT_URL;
  if (!pattern.test(url.href)) return null;
  if (AMAZONAWS_HOST.test(url.hostname) && !SNS_REGIONAL_HOST.test(url.hostname)) return null;
  return url;
}

/** SNS_CERT_URL_PATTERN's default (CONTRACT.md section 1), for a caller that configures none. */
const DEFAULT_CERT_URL = /^https:\/\/sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\//;

/**
 * SNS signing keys by certificate URL: a bounded LRU (the certificates in use stay, the one of a
 * region SNS rotated away from drops out), one fetch per URL however many posts wait for it.
 * Only URLs that passed trustedCertificateUrl come here; failures are not cached.
 *
 * Failures are classified for the webhook answer:
 * - the host answers 3xx/4xx or anything but an RSA certificate: AUTH_FAILED (the post is not
 *   signed by SNS; 401 and SNS does not retry);
 * - the host cannot be resolved or reached, times out or answers 5xx/429: a transient
 *   DeliveryError (5xx, so SNS retries the post later, when its certificate can be read).
 */
export class SnsCertificates {
  private readonly keys = new Map<string, KeyObject>();
  private readonly inFlight = new Map<string, Promise<KeyObject>>();

  constructor(
    private readonly timeoutMs: number,
    private readonly capacity = SNS_CERTIFICATE_CACHE_SIZE,
  ) {}

  async key(url: URL): Promise<KeyObject> {
    const href = url.href;
    const cached = this.keys.get(href);
    if (cached) {
      // Map keeps insertion order: re-inserting makes this the most recently used.
      this.keys.delete(href);
      this.keys.set(href, cached);
      return cached;
    }
    let pending = this.inFlight.get(href);
    if (!pending) {
      pending = this.fetchKey(href).finally(() => this.inFlight.delete(href));
      this.inFlight.set(href, pending);
    }
    const key = await pending;
    this.remember(href, key);
    return key;
  }

  private remember(href: string, key: KeyObject): void {
    this.keys.delete(href);
    this.keys.set(href, key);
    while (this.keys.size > this.capacity) {
      const oldest = this.keys.keys().next().value;
      if (oldest === undefined) break;
      this.keys.delete(oldest);
    }
  }

  private async fetchKey(href: string): Promise<KeyObject> {
    let res: Response;
    let text: string;
    try {
      // No redirects: a trusted host must serve the certificate itself.
      res = await fetch(href, { redirect: 'manual', signal: AbortSignal.timeout(this.timeoutMs) });
      text = await res.text();
    } catch (err) {
      throw fetchFailure(err, this.timeoutMs);
    }
    if (res.status >= 500 || res.status === 429 || res.status === 408) {
      throw unavailable(`the SNS signing certificate host answered ${res.status}`);
    }
    if (res.status !== 200) throw notSigned(`the SNS signing certificate URL answered ${res.status}`);
    if (text.length > MAX_CERTIFICATE_BYTES || !text.includes('-----BEGIN')) throw notSigned('the SigningCertURL serves no certificate');
    let key: KeyObject;
    try {
      // A certificate PEM (what SNS serves) or a bare public key PEM.
      key = createPublicKey(text);
    } catch {
      throw notSigned('the SigningCertURL serves no readable certificate');
    }
    if (key.asymmetricKeyType !== 'rsa') throw notSigned('the SNS signing certificate is not an RSA key');
    return key;
  }
}

function originOf(raw: string): string | null {
  try {
    return new URL(raw).origin;
  } catch {
    return null;
  }
}

function notSigned(why: string): DeliveryError {
  return new DeliveryError({
    code: DeliveryErrorCode.AUTH_FAILED,
    message: `SES webhook rejected: ${why}`,
    transient: false,
    transport: TransportKind.API,
  });
}

function unavailable(why: string, code = DeliveryErrorCode.CONNECTION_FAILED): DeliveryError {
  return new DeliveryError({ code, message: `SES webhook not verified yet: ${why}`, transient: true, transport: TransportKind.API });
}

/**
 * fetch's own failures, all transient. A name that does not resolve (ENOTFOUND) is one too: the
 * host already passed trustedCertificateUrl, and a local resolver with no upstream, or a brief
 * DNS outage, answers ENOTFOUND for real SNS hosts as well, so a 401 there would drop a genuine
 * notification for good (SNS does not retry 4xx). A forged post naming a made-up SNS-shaped host
 * only gets 503s, which change nothing.
 */
function fetchFailure(err: unknown, timeoutMs: number): DeliveryError {
  // Duck-typed, not instanceof: fetch's errors may come from another realm (jest's sandbox).
  const name = fieldOf(err, 'name');
  if (name === 'TimeoutError' || name === 'AbortError') {
    return unavailable(`the SNS signing certificate did not arrive within ${timeoutMs} ms`, DeliveryErrorCode.TIMEOUT);
  }
  const cause = typeof err === 'object' && err !== null && 'cause' in err ? err.cause : undefined;
  const code = fieldOf(cause, 'code');
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return unavailable(`could not resolve the SNS signing certificate host (${code})`);
  return unavailable('could not connect to the SNS signing certificate host');
}

function fieldOf(value: unknown, field: string): string {
  if (typeof value !== 'object' || value === null || !(field in value)) return '';
  return String((value as Record<string, unknown>)[field]);
}
