import { DeliveryError, parseRetryAfter } from './delivery-error';
import { DeliveryErrorCode } from './provider.enums';

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('30')).toBe(30_000);
    const now = Date.parse('2026-11-23T14:00:00Z');
    expect(parseRetryAfter('Mon, 23 Nov 2026 14:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

describe('DeliveryError', () => {
  it('keeps a NUL character of a server reply out of its message (PostgreSQL cannot store it with the message)', () => {
    const err = new DeliveryError({ code: DeliveryErrorCode.RECIPIENT_REJECTED, transient: false, message: '550 5.1.1 no such\u0000user' });
    expect(err.message).toBe('550 5.1.1 no such\uFFFDuser');
    expect(new DeliveryError(err.toInit()).message).toBe(err.message);
  });
});
