import { DeliveryErrorCode } from '../provider.enums';
import { classifyMailgunFailure, mailgunErrorFrom } from './mailgun-errors';

// Rows of PROVIDERS.md §3.2: status and body text as mailgun.js hands them over (`details`).
describe('classifyMailgunFailure', () => {
  const now = Date.parse('2025-08-25T06:00:31Z');

  it.each([
    ['bad key / wrong region', 401, 'Forbidden', DeliveryErrorCode.AUTH_FAILED, false],
    [
      'sandbox domain',
      403,
      'Domain sandboxXXX.mailgun.org is not allowed to send: Sandbox subdomains are for test purposes only. Please add your own domain or add the address to authorized recipients in Account Settings.',
      DeliveryErrorCode.SENDER_NOT_VERIFIED,
      false,
    ],
    ['forbidden for another reason', 403, 'Forbidden', DeliveryErrorCode.AUTH_FAILED, false],
    ['unknown domain', 404, 'Domain not found: mg.example.com', DeliveryErrorCode.SENDER_NOT_VERIFIED, false],
    ['missing parameter', 400, "'from' parameter is missing", DeliveryErrorCode.MESSAGE_REJECTED, false],
    [
      'bad recipient',
      400,
      "'to' parameter is not a valid address. please check documentation",
      DeliveryErrorCode.RECIPIENT_REJECTED,
      false,
    ],
    [
      'sending limit',
      420,
      'Domain mail.example.com is not allowed to send: recipient limit exceeded, try again after Mon, 25 Aug 2025 07:00:31 UTC',
      DeliveryErrorCode.QUOTA_EXCEEDED,
      true,
    ],
    ['rate limit', 429, '', DeliveryErrorCode.THROTTLED, true],
    ['too large', 413, 'Request Entity Too Large', DeliveryErrorCode.MESSAGE_REJECTED, false],
    ['request failed', 402, 'Request failed', DeliveryErrorCode.PROVIDER_ERROR, false],
    ['server error', 503, 'Service Unavailable', DeliveryErrorCode.PROVIDER_ERROR, true],
  ])('%s', (_name, status, details, code, transient) => {
    const err = classifyMailgunFailure({ status, details }, [], now);
    expect(err.code).toBe(code);
    expect(err.transient).toBe(transient);
    expect(err.providerStatus).toBe(status);
  });

  it('reads retryAfterMs from the 420 "try again after" date', () => {
    const err = classifyMailgunFailure(
      {
        status: 420,
        details:
          'Domain x is not allowed to send: recipient limit exceeded, try again after Mon, 25 Aug 2025 07:00:31 UTC',
      },
      [],
      now,
    );
    expect(err.retryAfterMs).toBe(3_600_000);
  });

  it('redacts secrets from quoted text', () => {
    const err = classifyMailgunFailure({ status: 401, details: 'key key-abcdef123 is not valid' }, ['key-abcdef123']);
    expect(err.message).not.toContain('key-abcdef123');
  });
});

describe('mailgunErrorFrom (mailgun.js APIError shapes)', () => {
  it('reads status and details', () => {
    const err = mailgunErrorFrom(
      { status: 401, message: 'Unauthorized', details: 'Forbidden', type: 'MailgunAPIError' },
      [],
    );
    expect(err.code).toBe(DeliveryErrorCode.AUTH_FAILED);
  });

  it('sees through the status 400 mailgun.js invents for network failures', () => {
    const timeout = mailgunErrorFrom(
      { status: 400, message: 'ECONNABORTED', details: 'timeout of 500ms exceeded', type: 'MailgunAPIError' },
      [],
    );
    expect(timeout.code).toBe(DeliveryErrorCode.TIMEOUT);
    expect(timeout.providerStatus).toBeUndefined();
    const refused = mailgunErrorFrom(
      { status: 400, message: 'ECONNREFUSED', details: 'connect ECONNREFUSED 127.0.0.1:1', type: 'MailgunAPIError' },
      [],
    );
    expect(refused.code).toBe(DeliveryErrorCode.CONNECTION_FAILED);
  });

  it('makes an Error mailgun.js throws before any request a permanent rejection, not a lost connection', () => {
    // What messages.create throws for an attachment whose data is not a string or Buffer.
    const err = mailgunErrorFrom(new TypeError('data should be a string, Buffer or Uint8Array'), []);
    expect(err.code).toBe(DeliveryErrorCode.MESSAGE_REJECTED);
    expect(err.transient).toBe(false);
    expect(err.message).toContain('data should be a string');
    // A network error keeps its code and stays a network failure.
    const refused = mailgunErrorFrom(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), []);
    expect(refused.code).toBe(DeliveryErrorCode.CONNECTION_FAILED);
    expect(refused.transient).toBe(true);
  });

  it('keeps a real 400 a 400', () => {
    const err = mailgunErrorFrom(
      { status: 400, message: 'BAD REQUEST', details: "'from' parameter is missing", type: 'MailgunAPIError' },
      [],
    );
    expect(err.code).toBe(DeliveryErrorCode.MESSAGE_REJECTED);
  });
});
