import { DeliveryError } from '../delivery-error';
import { DeliveryErrorCode } from '../provider.enums';
import { SnsCertificates, trustedCertificateUrl } from './sns-certificates';

/** SNS_CERT_URL_PATTERN's default (CONTRACT.md section 1). */
const PATTERN = /^https:\/\/sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\//;
const PEM = '/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem';

describe('trustedCertificateUrl: which SigningCertURLs may be fetched at all', () => {
  const trusted = (raw: string, snsEndpoint?: string) => trustedCertificateUrl(raw, { pattern: PATTERN, snsEndpoint })?.href ?? null;

  it.each([
    `https://sns.us-east-1.amazonaws.com${PEM}`,
    `https://sns.us-gov-west-1.amazonaws.com${PEM}`,
    `https://sns.cn-northwest-1.amazonaws.com.cn${PEM}`,
    `https://sns.ap-southeast-5.amazonaws.com${PEM}`,
    `https://sns.us-isob-east-1.amazonaws.com${PEM}`,
  ])('accepts the SNS regional host %s', (raw) => {
    expect(trusted(raw)).toBe(raw);
  });

  it('tests (and fetches) the normalised URL', () => {
    expect(trusted(`HTTPS://SNS.US-EAST-1.AMAZONAWS.COM:443${PEM}`)).toBe(`https://sns.us-east-1.amazonaws.com${PEM}`);
  });

  it.each([
    // Within the default pattern, but no SNS region: S3's legacy endpoint (bucket "sns"), made-up labels.
    `https://sns.s3-external-1.amazonaws.com${PEM}`,
    `https://sns.s3.amazonaws.com${PEM}`,
    `https://sns.attacker.amazonaws.com${PEM}`,
    `https://sns.123.amazonaws.com${PEM}`,
    // Outside the pattern.
    `http://sns.us-east-1.amazonaws.com${PEM}`,
    `https://sns.us-east-1.amazonaws.com:8443${PEM}`,
    `https://sns.us-east-1.amazonaws.com.attacker.example${PEM}`,
    `https://attacker.example/sns.us-east-1.amazonaws.com${PEM}`,
    `https://sns.us-east-1.amazonaws.com@attacker.example${PEM}`,
    `https://user:pass@sns.us-east-1.amazonaws.com${PEM}`,
    // Not a certificate file, not a URL.
    'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.txt',
    'https://sns.us-east-1.amazonaws.com/',
    'sns.us-east-1.amazonaws.com/x.pem',
    '',
  ])('refuses %s', (raw) => {
    expect(trusted(raw)).toBeNull();
  });

  it('accepts certificates from the origin of the configured SNS endpoint (tests, SNS-compatible endpoints), and only that origin', () => {
    expect(trusted('http://127.0.0.1:4566/SimpleNotificationService-fake.pem', 'http://127.0.0.1:4566')).toBe('http://127.0.0.1:4566/SimpleNotificationService-fake.pem');
    expect(trusted('http://127.0.0.1:4567/SimpleNotificationService-fake.pem', 'http://127.0.0.1:4566')).toBeNull();
    expect(trusted('http://127.0.0.1:4566/SimpleNotificationService-fake.txt', 'http://127.0.0.1:4566')).toBeNull();
  });

  it('follows a configured pattern for hosts outside amazonaws.com', () => {
    const pattern = /^https:\/\/sns\.internal\.example\//;
    expect(trustedCertificateUrl(`https://sns.internal.example${PEM}`, { pattern })?.href).toBe(`https://sns.internal.example${PEM}`);
    expect(trustedCertificateUrl(`https://sns.us-east-1.amazonaws.com${PEM}`, { pattern })).toBeNull();
  });
});

describe('SnsCertificates: what a certificate that cannot be read makes of the post', () => {
  const url = new URL(`https://sns.us-east-1.amazonaws.com${PEM}`);
  /** What undici's fetch throws when the name does not resolve (or the resolver fails). */
  const dnsFailure = (code: string) =>
    Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(`getaddrinfo ${code} ${url.hostname}`), { code, hostname: url.hostname }) });
  const failureOf = async (certificates: SnsCertificates): Promise<{ code: DeliveryErrorCode; transient: boolean }> => {
    const err: unknown = await certificates.key(url).then(
      () => null,
      (e: unknown) => e,
    );
    if (!(err instanceof DeliveryError)) throw new Error(`expected a DeliveryError, got ${String(err)}`);
    return { code: err.code, transient: err.transient };
  };
  afterEach(() => jest.restoreAllMocks());

  it.each(['ENOTFOUND', 'EAI_AGAIN'])('%s on a trusted SNS host is transient (5xx, SNS retries), and not remembered', async (code) => {
    const fetch = jest.spyOn(globalThis, 'fetch').mockRejectedValue(dnsFailure(code));
    const certificates = new SnsCertificates(1_000);
    expect(await failureOf(certificates)).toEqual({ code: DeliveryErrorCode.CONNECTION_FAILED, transient: true });
    expect(await failureOf(certificates)).toEqual({ code: DeliveryErrorCode.CONNECTION_FAILED, transient: true });
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it('a refused connection and a 503 are transient; a 404 is not signed (401)', async () => {
    const fetch = jest.spyOn(globalThis, 'fetch');
    fetch.mockRejectedValueOnce(Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }));
    expect(await failureOf(new SnsCertificates(1_000))).toEqual({ code: DeliveryErrorCode.CONNECTION_FAILED, transient: true });
    fetch.mockResolvedValueOnce(new Response('busy', { status: 503 }));
    expect(await failureOf(new SnsCertificates(1_000))).toEqual({ code: DeliveryErrorCode.CONNECTION_FAILED, transient: true });
    fetch.mockResolvedValueOnce(new Response('no such certificate', { status: 404 }));
    expect(await failureOf(new SnsCertificates(1_000))).toEqual({ code: DeliveryErrorCode.AUTH_FAILED, transient: false });
  });
});
