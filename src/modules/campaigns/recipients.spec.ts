import { BadUserInputError } from '../../infra/errors/domain-error';
import { MAX_RECIPIENTS_PER_CALL, normaliseRecipients } from './recipients';

describe('normaliseRecipients', () => {
  it('trims, lower-cases and de-duplicates, keeping first-seen order', () => {
    expect(normaliseRecipients([' B@Example.com', 'a@example.com', 'b@example.COM ', 'A@EXAMPLE.COM'])).toEqual(['b@example.com', 'a@example.com']);
    expect(normaliseRecipients([])).toEqual([]);
  });

  it('refuses the whole list, naming every bad address up to ten and counting the rest', () => {
    const refuse = (list: string[]): BadUserInputError => {
      try {
        normaliseRecipients(list);
      } catch (err) {
        if (err instanceof BadUserInputError) return err;
        throw err;
      }
      throw new Error('expected a BadUserInputError');
    };
    const one = refuse(['ok@example.com', 'nope']);
    expect(one.fields).toEqual(['recipients']);
    expect(one.message).toBe('recipients: "nope" is not a valid email address; nothing was stored');

    const bad = Array.from({ length: 12 }, (_, i) => `bad${i}`);
    const many = refuse(['ok@example.com', ...bad, 'a@b@example.com', 'x y@example.com', '']);
    expect(many.message).toContain('"bad0", "bad1"');
    expect(many.message).toContain('"bad9" and 5 more are not valid email addresses');
    expect(many.message).not.toContain('"bad10"');
    expect(refuse([`${'x'.repeat(320)}@example.com`]).message).toContain('…');
  });

  it('caps one call at the batch limit', () => {
    const tooMany = Array.from({ length: MAX_RECIPIENTS_PER_CALL + 1 }, (_, i) => `r${i}@example.com`);
    expect(() => normaliseRecipients(tooMany)).toThrow(/at most 50,000/);
  });
});
