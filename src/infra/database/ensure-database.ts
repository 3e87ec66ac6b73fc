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
      // Another process created it between our check and our CREATE: that is fine. PostgreSQL says
      // 42P04 when the other CREATE had committed before ours looked, 23505 (unique violation on
      // pg_database's name) when both were under way and ours waited for the other to commit.
      if (!CREATED_BY_ANOTHER.has((err as { code?: string }).code ?? '')) throw err;
    }
    return true;
  } finally {
    await client.end();
  }
}

const DATABASE_MISSING = '3D000';
const CREATED_BY_ANOTHER = new Set(['42P04', '23505']);

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

/**
 * Query parameters that carry a secret. pg-connection-string reads `?password=` and
 * `?sslpassword=` (the key file's passphrase) like the password in user:pass@, ioredis
 * `?password=` too.
 */
const SECRET_PARAM = /pass|secret|token/i;

/** The URL without its password (user:pass@ and secret query parameters), for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const key of new Set(parsed.searchParams.keys())) {
      if (SECRET_PARAM.test(key)) parsed.searchParams.set(key, '***');
    }
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * The secrets a URL carries as they may appear in an error text (raw and decoded), so
 * {@link withoutSecrets} can take them out of a driver's or server's message.
 */
export function urlSecrets(url: string): string[] {
  const found: string[] = [];
  const add = (value: string | null): void => {
    if (!value) return;
    found.push(value);
    try {
      found.push(decodeURIComponent(value));
    } catch {
      // a malformed escape: the raw form is all there is
    }
  };
  try {
    const parsed = new URL(url);
    add(parsed.password);
    for (const [key, value] of parsed.searchParams) if (SECRET_PARAM.test(key)) add(value);
  } catch {
    // Unparseable: take what sits between the scheme's user: and the last @ of the authority.
    add(/^[a-z][a-z0-9+.-]*:\/\/[^:/?#]*:(.*)@[^@]*$/i.exec(url)?.[1] ?? null);
  }
  return [...new Set(found)].sort((a, b) => b.length - a.length);
}

/** `text` with every secret of `url` replaced by ***. */
export function withoutSecrets(text: string, url: string): string {
  return urlSecrets(url).reduce((out, secret) => out.split(secret).join('***'), text);
}
