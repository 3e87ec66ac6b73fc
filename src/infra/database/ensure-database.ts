import { Client } from 'pg';

/** The database named in the URL, and the same URL pointed at the server's maintenance database. */
export function splitDatabaseUrl(url: string): { name: string; adminUrl: string } {
  const parsed = new URL(url);
  const name = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'postgres';
  parsed.pathname = '/postgres';
  return { name, adminUrl: parsed.toString() };
}

/**
 * Creates the database named in DATABASE_URL when it is missing (npm start on a fresh machine).
 * The database itself is tried first: where the app's user may only enter its own database
 * (managed PostgreSQL, a strict pg_hba.conf), the maintenance database is asked only when the
 * app's does not exist (3D000).
 */
export async function ensureDatabase(url: string): Promise<boolean> {
  try {
    await connectAndEnd(url);
    return false;
  } catch (err) {
    if ((err as { code?: string }).code !== DATABASE_MISSING) throw err;
  }
  const { name, adminUrl } = splitDatabaseUrl(url);
  const client = await connected(adminUrl);
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    try {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    } catch (err) {
      // Another process created it between our check and our CREATE: that is fine.
      if ((err as { code?: string }).code !== '42P04') throw err;
    }
    return true;
  } finally {
    await client.end();
  }
}

const DATABASE_MISSING = '3D000';

async function connected(url: string): Promise<Client> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => undefined); // also clears pg's connection-timeout timer
    throw err;
  }
}

async function connectAndEnd(url: string): Promise<void> {
  await (await connected(url)).end();
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
