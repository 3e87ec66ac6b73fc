import { setTimeout as delay } from 'node:timers/promises';

/** SQLSTATE classes and codes that say "the database was away or busy", not "the statement is wrong". */
const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '57P01', '57P02', '57P03', '53300']);
const TRANSIENT_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const TRANSIENT_MESSAGES = /Connection terminated|connection timeout|Client has encountered a connection error|terminating connection|the database system is (starting up|shutting down|in recovery)|Connection ended/i;

/** True for failures a retry can cure: lost connections, a restarting server, deadlocks. */
export function isTransientDbError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code ?? (err as { driverError?: { code?: unknown } }).driverError?.code;
  if (typeof code === 'string' && (TRANSIENT_SQLSTATES.has(code) || code.startsWith('08') || TRANSIENT_NODE_CODES.has(code))) return true;
  return TRANSIENT_MESSAGES.test(err.message);
}

/**
 * Runs `fn` again while it fails transiently, backing off up to 2 s between tries, until
 * `deadlineMs` has passed; then (or on any other error) the error is thrown. For writes that
 * must not be lost to a database restart, such as recording that a message was sent.
 */
export async function retryTransientDb<T>(fn: () => Promise<T>, deadlineMs: number): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransientDbError(err) || Date.now() >= deadline) throw err;
      await delay(Math.min(100 * 2 ** attempt, 2_000));
    }
  }
}
