import Redis from 'ioredis';
import { ensureDatabase, redactUrl } from './database/ensure-database';

/**
 * Checks the services before Nest starts, so a missing PostgreSQL or Redis is one clear line
 * naming the URL and what to do, not a wall of retries and stack traces.
 */
export async function checkPostgres(url: string): Promise<string | null> {
  try {
    await ensureDatabase(url);
    return null;
  } catch (err) {
    const why = (err as { code?: string }).code ?? 'no answer';
    return (
      `PostgreSQL is not reachable at ${redactUrl(url)} (${why}). Start it ` +
      `(pg_ctlcluster --skip-systemctl-redirect <version> main start) or set DATABASE_URL.`
    );
  }
}

export async function checkRedis(url: string): Promise<string | null> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return null;
  } catch (err) {
    const why = (err as { code?: string }).code ?? 'no answer';
    return `Redis is not reachable at ${redactUrl(url)} (${why}). Start it (redis-server --daemonize yes) or set REDIS_URL.`;
  } finally {
    client.disconnect();
  }
}
