import { DeliveryErrorCode, TransportKind } from '../provider.enums';
import { classifyElasticEmailError, type ElasticEmailReply, isSoftFailure, readElasticEmailError } from './elastic-email-errors';

// PROVIDERS.md §5.2: the v4 error body is UNCONFIRMED. Likely `{"Error":"..."}`; the legacy v2
// API answered `{"success":false,"error":"Access Denied."}` / "Incorrect apikey" with HTTP 200.
const json = (status: number, body: unknown, retryAfter?: string): ElasticEmailReply => ({
  status,
  json: body,
  text: JSON.stringify(body),
  retryAfter,
});
const text = (status: number, body: string): ElasticEmailReply => ({ status, json: undefined, text: body });

describe('readElasticEmailError', () => {
  it.each([
    [{ Error: 'Incorrect apikey' }, 'Incorrect apikey'],
    [{ success: false, error: 'Access Denied.' }, 'Access Denied.'],
    [{ message: 'Something' }, 'Something'],
    [{ title: 'One or more validation errors occurred.', errors: { From: ['From is required'] } }, 'One or more validation errors occurred.'],
    [{ errors: { From: ['From is required'] } }, 'From is required'],
  ])('reads %j', (body, expected) => {
    expect(readElasticEmailError(body, JSON.stringify(body))).toBe(expected);
  });

  it('falls back to plain text and ignores HTML pages', () => {
    expect(readElasticEmailError(undefined, 'Incorrect apikey')).toBe('Incorrect apikey');
    expect(readElasticEmailError(undefined, '<html>502</html>')).toBe('');
  });

  it('recognises the v2 "success:false with 200" failure', () => {
    expect(isSoftFailure({ success: false, error: 'x' })).toBe(true);
    expect(isSoftFailure({ TransactionID: 't', MessageID: 'm' })).toBe(false);
  });
});

describe('classifyElasticEmailError', () => {
  it.each([
    ['401 bad key', json(401, { Error: 'Incorrect apikey' }), DeliveryErrorCode.AUTH_FAILED, false],
    ['v2 bad key on HTTP 200', json(200, { success: false, error: 'Incorrect apikey' }), DeliveryErrorCode.AUTH_FAILED, false],
    ['403 missing access level', json(403, { Error: 'Access Denied' }), DeliveryErrorCode.AUTH_FAILED, false],
    ['plain-text 401', text(401, 'Unauthorized'), DeliveryErrorCode.AUTH_FAILED, false],
    [
      'unverified From domain',
      json(400, { Error: 'Your domain unverified.example is not verified. Please verify your sender domain.' }),
      DeliveryErrorCode.SENDER_NOT_VERIFIED,
      false,
    ],
    ['credits exhausted', json(400, { Error: 'Insufficient credit to send' }), DeliveryErrorCode.QUOTA_EXCEEDED, false],
    ['daily limit', json(400, { Error: 'Daily limit exceeded' }), DeliveryErrorCode.QUOTA_EXCEEDED, false],
    ['bad recipient', json(400, { Error: 'Invalid email address: not-an-address' }), DeliveryErrorCode.RECIPIENT_REJECTED, false],
    ['content flagged', json(400, { Error: 'Message content was flagged as spam' }), DeliveryErrorCode.MESSAGE_REJECTED, false],
    ['unexplained 400 on send', json(400, { Error: 'Bad request' }), DeliveryErrorCode.MESSAGE_REJECTED, false],
    ['concurrency limit', json(429, { Error: 'Too many concurrent connections' }), DeliveryErrorCode.THROTTLED, true],
    ['server error', json(500, { Error: 'Internal error' }), DeliveryErrorCode.PROVIDER_ERROR, true],
    ['gateway HTML', text(502, '<html>Bad Gateway</html>'), DeliveryErrorCode.PROVIDER_ERROR, true],
  ])('%s', (_name, reply, code, transient) => {
    const err = classifyElasticEmailError(reply, 'send');
    expect(err).toMatchObject({ code, transient, providerStatus: reply.status, transport: TransportKind.API });
    expect(err.message).toMatch(/Elastic Email/);
  });

  it('reads Retry-After on 429', () => {
    const err = classifyElasticEmailError(json(429, { Error: 'Too many requests' }, '12'), 'send');
    expect(err.retryAfterMs).toBe(12_000);
  });

  it('calls an unexplained 4xx outside sending a provider error', () => {
    expect(classifyElasticEmailError(json(409, { Error: 'Conflict' }), 'webhooks').code).toBe(DeliveryErrorCode.PROVIDER_ERROR);
  });

  it('scrubs the API key if a reply echoes it', () => {
    const err = classifyElasticEmailError(json(401, { Error: 'Incorrect apikey EE-SECRET' }), 'send', 'EE-SECRET');
    expect(err.message).not.toContain('EE-SECRET');
    expect(err.message).toContain('Incorrect apikey');
    // Echoed across the point where a long reply is cut: no part of it stays either.
    const key = 'EE0123456789ABCDEF0123456789ABCDEF012345';
    const long = classifyElasticEmailError(json(401, { Error: `${'x'.repeat(285)} key ${key} refused` }), 'send', key);
    expect(long.message).not.toContain(key.slice(0, 8));
  });
});
