import { DeliveryErrorCode } from '../provider.enums';
import { classifySendGridFailure, sendGridErrorFrom } from './sendgrid-errors';

// Bodies recorded in PROVIDERS.md §2.2 / §2.3 (raw SendGrid responses from public issues and the OpenAPI spec).
const BAD_KEY = {
  errors: [{ message: 'The provided authorization grant is invalid, expired, or revoked', field: null, help: null }],
};
const NO_SCOPE = { errors: [{ message: 'access forbidden', field: null }] };
const UNVERIFIED = {
  errors: [
    {
      message:
        'The from address does not match a verified Sender Identity. Mail cannot be sent until this error is resolved. Visit https://sendgrid.com/docs/for-developers/sending-email/sender-identity/ to see the Sender Identity requirements',
      field: 'from',
      help: null,
    },
  ],
};
const CREDITS = { errors: [{ message: 'Maximum credits exceeded', field: null, help: null }] };
const RATE = { errors: [{ field: null, message: 'too many requests' }] };

describe('classifySendGridFailure', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  it.each([
    ['revoked key', 401, BAD_KEY, DeliveryErrorCode.AUTH_FAILED, false],
    ['key without mail.send', 403, NO_SCOPE, DeliveryErrorCode.AUTH_FAILED, false],
    ['unverified sender', 403, UNVERIFIED, DeliveryErrorCode.SENDER_NOT_VERIFIED, false],
    ['credits exhausted (401!)', 401, CREDITS, DeliveryErrorCode.QUOTA_EXCEEDED, true],
    ['rate limit', 429, RATE, DeliveryErrorCode.THROTTLED, true],
    [
      'server error',
      500,
      { errors: [{ message: 'Internal error', field: null }] },
      DeliveryErrorCode.PROVIDER_ERROR,
      true,
    ],
    [
      'bad recipient',
      400,
      { errors: [{ message: 'Does not contain a valid address.', field: 'personalizations.0.to.0.email' }] },
      DeliveryErrorCode.RECIPIENT_REJECTED,
      false,
    ],
    ['too large', 413, { errors: [{ message: 'too large', field: null }] }, DeliveryErrorCode.MESSAGE_REJECTED, false],
    [
      'data residency',
      451,
      { errors: [{ message: 'region mismatch', field: null }] },
      DeliveryErrorCode.PROVIDER_ERROR,
      false,
    ],
  ])('%s', (_name, status, body, code, transient) => {
    const err = classifySendGridFailure({ status, body }, [], now);
    expect(err.code).toBe(code);
    expect(err.transient).toBe(transient);
    expect(err.providerStatus).toBe(status);
  });

  it('quotes the provider text for a person', () => {
    expect(classifySendGridFailure({ status: 403, body: UNVERIFIED }, []).message).toMatch(
      /^SendGrid refused the sender: The from address/,
    );
  });

  it('takes retryAfterMs from Retry-After, else from X-RateLimit-Reset', () => {
    expect(
      classifySendGridFailure({ status: 429, body: RATE, headers: { 'retry-after': '3' } }, [], now).retryAfterMs,
    ).toBe(3000);
    const reset = String(now / 1000 + 42);
    expect(
      classifySendGridFailure({ status: 429, body: RATE, headers: { 'x-ratelimit-reset': reset } }, [], now)
        .retryAfterMs,
    ).toBe(42_000);
    expect(classifySendGridFailure({ status: 429, body: RATE }, [], now).retryAfterMs).toBeUndefined();
  });

  it('classifies network failures', () => {
    expect(sendGridErrorFrom({ code: 'ECONNABORTED', message: 'timeout of 500ms exceeded' }, []).code).toBe(
      DeliveryErrorCode.TIMEOUT,
    );
    expect(sendGridErrorFrom({ code: 'ECONNREFUSED' }, []).code).toBe(DeliveryErrorCode.CONNECTION_FAILED);
    expect(sendGridErrorFrom({ code: 'ENOTFOUND' }, []).code).toBe(DeliveryErrorCode.CONNECTION_FAILED);
    // After the request may have gone out, or nothing to tell: the provider may have the message.
    expect(sendGridErrorFrom({ code: 'ECONNRESET' }, []).code).toBe(DeliveryErrorCode.TIMEOUT);
    expect(sendGridErrorFrom({}, []).code).toBe(DeliveryErrorCode.TIMEOUT);
  });

  it('a message the SDK or Node refuses locally is a permanent MESSAGE_REJECTED, not a network failure', () => {
    const helper = sendGridErrorFrom(new Error('Expected `to` to be an object or string'), []);
    expect(helper.code).toBe(DeliveryErrorCode.MESSAGE_REJECTED);
    expect(helper.transient).toBe(false);
    const header = sendGridErrorFrom(
      Object.assign(new TypeError('Invalid character in header content ["X-A"]'), { code: 'ERR_INVALID_CHAR' }),
      [],
    );
    expect(header.code).toBe(DeliveryErrorCode.MESSAGE_REJECTED);
  });

  it('reads a @sendgrid/client ResponseError shape', () => {
    const err = sendGridErrorFrom({ code: 401, message: 'Unauthorized', response: { headers: {}, body: BAD_KEY } }, []);
    expect(err.code).toBe(DeliveryErrorCode.AUTH_FAILED);
  });

  it('redacts secrets echoed back in provider text', () => {
    const body = { errors: [{ message: 'key SG.secret-key-XYZ is revoked', field: null }] };
    const err = classifySendGridFailure({ status: 401, body }, ['SG.secret-key-XYZ']);
    expect(err.message).not.toContain('SG.secret-key-XYZ');
    expect(err.message).toContain('[redacted]');
  });
});
