import { randomBytes } from 'node:crypto';
import { CredentialsCipher, secretHint } from './credentials-cipher';

describe('CredentialsCipher', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);

  it('round-trips a value and stores no plaintext', () => {
    const cipher = new CredentialsCipher({ a: oldKey }, 'a');
    const sealed = cipher.seal({ apiKey: 'SG.very-secret' }, 'server-1');
    expect(JSON.stringify(sealed)).not.toContain('very-secret');
    expect(cipher.open(sealed, 'server-1')).toEqual({ apiKey: 'SG.very-secret' });
  });

  it('refuses a blob moved to another row or tampered with', () => {
    const cipher = new CredentialsCipher({ a: oldKey }, 'a');
    const sealed = cipher.seal('x', 'server-1');
    expect(() => cipher.open(sealed, 'server-2')).toThrow();
    const flipped = Buffer.from(sealed.ct, 'base64');
    flipped[0] ^= 1;
    expect(() => cipher.open({ ...sealed, ct: flipped.toString('base64') }, 'server-1')).toThrow();
  });

  it('refuses a shortened authentication tag (GCM would check only what is left of it)', () => {
    const cipher = new CredentialsCipher({ a: oldKey }, 'a');
    const sealed = cipher.seal('x', 'server-1');
    const short = Buffer.from(sealed.tag, 'base64').subarray(0, 4).toString('base64');
    expect(() => cipher.open({ ...sealed, tag: short }, 'server-1')).toThrow();
  });

  it('opens secrets sealed under a previous key after rotation', () => {
    const sealed = new CredentialsCipher({ a: oldKey }, 'a').seal('old', 'r');
    const rotated = new CredentialsCipher({ a: oldKey, b: newKey }, 'b');
    expect(rotated.open(sealed, 'r')).toBe('old');
    expect(rotated.seal('new', 'r').k).toBe('b');
  });

  it('hints at a secret with its last four characters', () => {
    expect(secretHint('SG.abcdefgha9F2')).toBe('…a9F2');
    expect(secretHint('short')).toBe('…');
  });
});
