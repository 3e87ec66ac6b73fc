import { Client } from 'pg';

/**
 * The SQL statements this process sends while `fn` runs (every pg client: the app's pool too).
 * It only counts and passes each call on: what runs against PostgreSQL is unchanged.
 */
export async function countQueries(fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const original = Client.prototype.query;
  const counting = function (this: Client, ...args: unknown[]): unknown {
    const first = args[0] as string | { text?: string } | undefined;
    seen.push(typeof first === 'string' ? first : (first?.text ?? ''));
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  };
  Client.prototype.query = counting as typeof Client.prototype.query;
  try {
    await fn();
  } finally {
    Client.prototype.query = original;
  }
  return seen;
}
