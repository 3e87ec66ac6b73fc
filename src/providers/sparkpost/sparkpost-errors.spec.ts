import { DeliveryErrorCode, TransportKind } from '../provider.enums';
import { classifySparkPostError, readSparkPostErrors, type SparkPostReply } from './sparkpost-errors';

// Error bodies as recorded in PROVIDERS.md §4.2 (SparkPost API reference and public issues).
const reply = (status: number, json: unknown, retryAfter?: string): SparkPostReply => ({
  status,
  json,
  text: json === undefined ? '<html>Bad Gateway</html>' : JSON.stringify(json),
  retryAfter,
});

describe('classifySparkPostError', () => {
  it.each([
    ['bad API key', reply(401, { errors: [{ message: 'Unauthorized.' }] }), DeliveryErrorCode.AUTH_FAILED, false],
    ['key without permission', reply(403, { errors: [{ message: 'Forbidden.' }] }), DeliveryErrorCode.AUTH_FAILED, false],
    [
      'unverified sending domain',
      reply(400, {
        errors: [{ description: 'Unconfigured or unverified sending domain.', code: '7001', message: 'Invalid domain' }],
      }),
      DeliveryErrorCode.SENDER_NOT_VERIFIED,
      false,
    ],
    [
      'hourly sending limit',
      reply(420, { errors: [{ message: 'Exceed Sending Limit (hourly)', code: '2101' }] }),
      DeliveryErrorCode.QUOTA_EXCEEDED,
      true,
    ],
    [
      'sandbox limit (lifetime, not worth retrying)',
      reply(420, { errors: [{ message: 'Exceed Sending Limit (sandbox)', code: '2101' }] }),
      DeliveryErrorCode.QUOTA_EXCEEDED,
      false,
    ],
    [
      'semantic validation',
      reply(422, {
        errors: [{ message: 'required field is missing', description: 'content object or template_id required', code: '1400' }],
      }),
      DeliveryErrorCode.MESSAGE_REJECTED,
      false,
    ],
    [
      'recipient problem',
      reply(422, { errors: [{ message: 'At least one valid recipient is required', code: '5002' }] }),
      DeliveryErrorCode.RECIPIENT_REJECTED,
      false,
    ],
    ['server error', reply(503, { errors: [{ message: 'Service Unavailable' }] }), DeliveryErrorCode.PROVIDER_ERROR, true],
    ['server error with an HTML body', reply(502, undefined), DeliveryErrorCode.PROVIDER_ERROR, true],
  ])('%s', (_name, r, code, transient) => {
    const err = classifySparkPostError(r, 'send');
    expect(err).toMatchObject({ code, transient, providerStatus: r.status, transport: TransportKind.API });
    expect(err.message).toMatch(/SparkPost/);
  });

  it('reads Retry-After on 429 into retryAfterMs', () => {
    const err = classifySparkPostError(reply(429, { errors: [{ message: 'Too many requests' }] }, '5'), 'send');
    expect(err).toMatchObject({ code: DeliveryErrorCode.THROTTLED, transient: true, retryAfterMs: 5000 });
  });

  it('calls an unexplained 4xx outside sending a provider error, not a rejected message', () => {
    expect(classifySparkPostError(reply(409, { errors: [{ message: 'conflict' }] }), 'webhooks').code).toBe(
      DeliveryErrorCode.PROVIDER_ERROR,
    );
  });

  it('puts the provider wording in the message for a person', () => {
    const err = classifySparkPostError(
      reply(400, { errors: [{ description: 'Unconfigured or unverified sending domain.', code: '7001', message: 'Invalid domain' }] }),
      'send',
    );
    expect(err.message).toContain('Invalid domain — Unconfigured or unverified sending domain. [7001]');
  });

  it('scrubs the API key if a reply ever echoes it', () => {
    const err = classifySparkPostError(reply(401, { errors: [{ message: 'bad key sp-secret-key' }] }), 'send', 'sp-secret-key');
    expect(err.message).not.toContain('sp-secret-key');
    // Echoed across the point where a long reply is cut: no part of it stays either.
    const key = 'sp0123456789abcdef0123456789abcdef012345';
    const long = classifySparkPostError(reply(401, { errors: [{ message: `${'x'.repeat(285)} key ${key} refused` }] }), 'send', key);
    expect(long.message).not.toContain(key.slice(0, 8));
  });

  it('tolerates numeric codes and junk entries', () => {
    expect(readSparkPostErrors({ errors: [{ message: 'x', code: 7001 }, 'junk', null] })).toEqual([
      { message: 'x', description: undefined, code: '7001' },
    ]);
    expect(readSparkPostErrors('Forbidden')).toEqual([]);
  });
});
