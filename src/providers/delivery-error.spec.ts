import { parseRetryAfter } from './delivery-error';

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('30')).toBe(30_000);
    const now = Date.parse('2026-11-23T14:00:00Z');
    expect(parseRetryAfter('Mon, 23 Nov 2026 14:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});
