import { createHash } from 'node:crypto';

/**
 * UUIDs (version 4 layout) drawn from a seed: the nth id of a seed is the same on every run, so
 * a frontend can bookmark `account(id: …)` and a test can snapshot answers.
 */
export function uuidSequence(seed: string): () => string {
  let n = 0;
  return () => {
    const hex = createHash('sha256').update(`${seed}:${n++}`).digest('hex');
    const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  };
}

/** A hex string of the given length from the same seed, for provider message ids and key hints. */
export function hexFrom(seed: string, length: number): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, length);
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** ISO 8601 in UTC with milliseconds, as the API answers DateTime. */
export const iso = (ms: number): string => new Date(ms).toISOString();
