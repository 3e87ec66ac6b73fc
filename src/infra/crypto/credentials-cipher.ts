import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** What is stored for a sealed secret: the key id lets keys rotate without re-encrypting at once. */
export interface SealedSecret {
  /** key id */
  k: string;
  /** base64 iv (12 bytes) */
  iv: string;
  /** base64 ciphertext */
  ct: string;
  /** base64 GCM auth tag */
  tag: string;
}

/**
 * AES-256-GCM sealing of provider credentials. Seals under the current key; opens under any
 * key it knows (old keys stay configured until every row is re-sealed).
 */
export class CredentialsCipher {
  constructor(
    private readonly keys: Record<string, Buffer>,
    private readonly currentKeyId: string,
  ) {
    for (const [id, key] of Object.entries(keys)) {
      if (key.length !== 32) throw new Error(`Credentials key ${id} must be 32 bytes`);
    }
    if (!keys[currentKeyId]) throw new Error('The current credentials key is not configured');
  }

  seal(value: unknown, aad: string): SealedSecret {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys[this.currentKeyId], iv);
    cipher.setAAD(Buffer.from(aad));
    const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return { k: this.currentKeyId, iv: iv.toString('base64'), ct: ct.toString('base64'), tag: cipher.getAuthTag().toString('base64') };
  }

  /** `aad` binds the secret to its row (e.g. the server id), so a sealed blob cannot be moved to another row. */
  open<T>(sealed: SealedSecret, aad: string): T {
    const key = this.keys[sealed.k];
    if (!key) throw new Error(`Credentials were sealed under key ${sealed.k}, which is not configured`);
    // The full 16-byte tag only: GCM would otherwise accept a tag cut to 4 bytes, a weaker check on a tampered row.
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'), { authTagLength: 16 });
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    const plain = Buffer.concat([decipher.update(Buffer.from(sealed.ct, 'base64')), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as T;
  }
}

/** "…a9F2": the last four characters, for showing that a secret is set without showing it. */
export function secretHint(secret: string): string {
  return secret.length <= 8 ? '…' : `…${secret.slice(-4)}`;
}
