// Sealing and opening provider credentials happens on every send: how many per second one core does.
import { randomBytes } from 'node:crypto';
import { CredentialsCipher } from '../src/infra/crypto/credentials-cipher';

export async function run(): Promise<Record<string, unknown>[]> {
  const cipher = new CredentialsCipher({ k1: randomBytes(32) }, 'k1');
  const secret = { sendgrid: { apiKey: `SG.${randomBytes(30).toString('base64url')}` }, smtp: { host: 'smtp.sendgrid.net', port: 587, password: 'x'.repeat(40) } };
  const n = 50_000;
  let start = process.hrtime.bigint();
  const sealed = [];
  for (let i = 0; i < n; i++) sealed.push(cipher.seal(secret, `server-${i % 100}`));
  const sealSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) cipher.open(sealed[i], `server-${i % 100}`);
  const openSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  return [{ bench: 'credentials', n, sealPerSecond: Math.round(n / sealSeconds), openPerSecond: Math.round(n / openSeconds) }];
}
