import { DeliveryErrorCode } from '../provider.enums';
import { classifySesFailure, sanitizeAwsErrorCode, sesErrorFrom } from './ses-errors';

// Rows of the PROVIDERS.md §1.3 scenario table: status, x-amzn-ErrorType, body.message.
const ctx = { secrets: [], from: 'sender@example.com' };

describe('sanitizeAwsErrorCode', () => {
  it('strips the coral suffix and the namespace like the SDK does', () => {
    expect(
      sanitizeAwsErrorCode('UnrecognizedClientException:http://internal.amazon.com/coral/com.amazon.coral.service/'),
    ).toBe('UnrecognizedClientException');
    expect(sanitizeAwsErrorCode('com.amazonaws.sesv2#MessageRejected')).toBe('MessageRejected');
    expect(sanitizeAwsErrorCode('TooManyRequestsException,foo')).toBe('TooManyRequestsException');
  });
});

describe('classifySesFailure', () => {
  it.each([
    [
      'bad access key id',
      403,
      'UnrecognizedClientException:http://internal.amazon.com/coral/com.amazon.coral.service/',
      'The security token included in the request is invalid.',
      DeliveryErrorCode.AUTH_FAILED,
      false,
    ],
    [
      'bad secret',
      403,
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided.',
      DeliveryErrorCode.AUTH_FAILED,
      false,
    ],
    [
      'unverified sender',
      400,
      'MessageRejected',
      'Email address is not verified. The following identities failed the check in region US-EAST-1: sender@example.com',
      DeliveryErrorCode.SENDER_NOT_VERIFIED,
      false,
    ],
    [
      'sandbox recipient',
      400,
      'MessageRejected',
      'Email address is not verified. The following identities failed the check in region US-EAST-1: to@example.org',
      DeliveryErrorCode.RECIPIENT_REJECTED,
      false,
    ],
    ['content rejected', 400, 'MessageRejected', 'Illegal header.', DeliveryErrorCode.MESSAGE_REJECTED, false],
    [
      'MAIL FROM not verified',
      400,
      'MailFromDomainNotVerifiedException',
      'MAIL FROM domain is not verified.',
      DeliveryErrorCode.SENDER_NOT_VERIFIED,
      false,
    ],
    [
      'max send rate',
      429,
      'TooManyRequestsException',
      'Maximum sending rate exceeded.',
      DeliveryErrorCode.THROTTLED,
      true,
    ],
    [
      'daily quota',
      429,
      'TooManyRequestsException',
      'Daily message quota exceeded.',
      DeliveryErrorCode.QUOTA_EXCEEDED,
      true,
    ],
    ['limit exceeded', 400, 'LimitExceededException', 'Too many requests.', DeliveryErrorCode.THROTTLED, true],
    [
      'sending paused',
      400,
      'SendingPausedException',
      'Sending is paused for this account.',
      DeliveryErrorCode.PROVIDER_ERROR,
      false,
    ],
    [
      'account suspended',
      400,
      'AccountSuspendedException',
      'Account suspended.',
      DeliveryErrorCode.PROVIDER_ERROR,
      false,
    ],
    [
      'internal error',
      500,
      'InternalServiceErrorException',
      'Internal service error.',
      DeliveryErrorCode.PROVIDER_ERROR,
      true,
    ],
    ['bad gateway without a code', 502, '', '', DeliveryErrorCode.PROVIDER_ERROR, true],
    ['bad request', 400, 'BadRequestException', 'Missing final @domain', DeliveryErrorCode.MESSAGE_REJECTED, false],
    [
      'configuration set gone',
      404,
      'NotFoundException',
      'Configuration set <x> does not exist.',
      DeliveryErrorCode.PROVIDER_ERROR,
      false,
    ],
  ])('%s', (_name, status, code, message, expected, transient) => {
    const err = classifySesFailure({ status, code, message }, ctx);
    expect(err.code).toBe(expected);
    expect(err.transient).toBe(transient);
    expect(err.providerStatus).toBe(status);
  });

  it('takes retryAfterMs from Retry-After when SES sends one', () => {
    const err = classifySesFailure(
      { status: 429, code: 'TooManyRequestsException', message: 'Maximum sending rate exceeded.', retryAfter: '2' },
      ctx,
    );
    expect(err.retryAfterMs).toBe(2000);
  });

  it('redacts the secret and access key id from quoted text', () => {
    const err = classifySesFailure(
      { status: 403, code: 'InvalidSignatureException', message: 'bad signature for AKIDSECRET1 with s3cr3t-value' },
      { secrets: ['s3cr3t-value', 'AKIDSECRET1'] },
    );
    expect(err.message).not.toMatch(/s3cr3t-value|AKIDSECRET1/);
  });
});

describe('sesErrorFrom (SDK error shapes)', () => {
  it('reads name, message and $metadata.httpStatusCode of a service exception', () => {
    const sdkError = Object.assign(new Error('Maximum sending rate exceeded.'), {
      name: 'TooManyRequestsException',
      $metadata: { httpStatusCode: 429 },
      $response: { headers: { 'retry-after': '5' } },
    });
    const err = sesErrorFrom(sdkError, ctx);
    expect(err.code).toBe(DeliveryErrorCode.THROTTLED);
    expect(err.retryAfterMs).toBe(5000);
  });

  it('maps network failures', () => {
    expect(
      sesErrorFrom(Object.assign(new Error('timed out'), { name: 'TimeoutError', code: 'ETIMEDOUT' }), ctx).code,
    ).toBe(DeliveryErrorCode.TIMEOUT);
    expect(sesErrorFrom(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), ctx).code).toBe(
      DeliveryErrorCode.CONNECTION_FAILED,
    );
  });
});
