import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { DatabaseError } from 'pg';
import { ensureDatabase, redactUrl, withoutSecrets } from './database/ensure-database';

/** Errors of a server that is not there (not running, wrong host or port, no route): "start it" is the advice. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'EADDRNOTAVAIL', 'ECONNRESET']);

type ErrorLike = { code?: unknown; syscall?: unknown; message?: unknown; errors?: unknown };

/** Why a connection failed when it is a network failure (an error code, or "no answer"); null when something answered. */
function networkFailure(err: unknown): string | null {
  const e = (err ?? {}) as ErrorLike;
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code && NETWORK_CODES.has(code)) return code;
  // A Unix socket path with no server listening on it.
  if (code === 'ENOENT' && e.syscall === 'connect') return code;
  // pg's connectionTimeoutMillis destroys the socket with this error.
  if (!code && typeof e.message === 'string' && /^timeout expired$|connection timeout/i.test(e.message)) return 'no answer within 5 s';
  // Several addresses tried (happy eyeballs): network only when every one failed so.
  if (Array.isArray(e.errors) && e.errors.length && e.errors.every((inner) => networkFailure(inner))) return networkFailure(e.errors[0]);
  return null;
}

/** The driver's or server's own words on one line, with any password taken out. */
function answered(err: unknown, url: string): string {
  const e = (err ?? {}) as ErrorLike;
  const message = typeof e.message === 'string' && e.message.trim() ? e.message : String(err);
  const code = typeof e.code === 'string' ? ` (${e.code})` : '';
  return withoutSecrets(`${message.replace(/\s+/g, ' ').trim().replace(/\.$/, '')}${code}`, url);
}

/**
 * Checks the services before Nest starts, so a missing PostgreSQL or Redis is one clear line
 * naming the URL and what to do, not a wall of retries and stack traces. Only a network failure
 * is reported as a server to start; anything the server or the driver answered is quoted.
 */
export async function checkPostgres(url: string): Promise<string | null> {
  try {
    await ensureDatabase(url);
    return null;
  } catch (err) {
    const at = redactUrl(url);
    if (err instanceof DatabaseError && err.code) {
      // 28xxx: the server answered and refused the login (wrong password, not allowed in).
      if (err.code.startsWith('28')) return `PostgreSQL at ${at} refused the login (${err.code}): check the user and password in DATABASE_URL.`;
      // Any other SQLSTATE: the server answered, but the database could not be opened or created.
      return `PostgreSQL at ${at} answered, but its database could not be opened or created (${err.code}): check the database in DATABASE_URL, or let its user create it (CREATEDB).`;
    }
    const unreachable = networkFailure(err);
    if (unreachable) {
      return (
        `PostgreSQL is not reachable at ${at} (${unreachable}). Start it ` +
        `(pg_ctlcluster --skip-systemctl-redirect <version> main start) or set DATABASE_URL.`
      );
    }
    // pg asks for the password only once the server wants one (SCRAM): the URL carries none.
    if (err instanceof Error && /client password must be a string/.test(err.message)) {
      return `PostgreSQL at ${at} asks for a password and DATABASE_URL has none: add it to DATABASE_URL (percent-encoded).`;
    }
    return `PostgreSQL at ${at} could not be used: ${answered(err, url)}. Check DATABASE_URL.`;
  }
}

/**
 * A raw PING over a socket rather than an ioredis client: a client that fails to connect keeps
 * timers alive after disconnect(), and a one-shot check should leave nothing running.
 */
export async function checkRedis(url: string): Promise<string | null> {
  const at = redactUrl(url);
  const unreachable = (why: string): string => `Redis is not reachable at ${at} (${why}). Start it (redis-server --daemonize yes) or set REDIS_URL.`;
  const refused = (why: string): string => `Redis at ${at} ${withoutSecrets(why, url)}: check REDIS_URL.`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    return refused(`could not be used: ${answered(err, url)}; percent-encode special characters of the password`);
  }
  const port = Number(parsed.port || 6379);
  const host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  // As ioredis reads it: user:pass@ first, else ?username= / ?password=.
  const password = parsed.password ? decodeURIComponent(parsed.password) : parsed.searchParams.get('password');
  const username = parsed.username ? decodeURIComponent(parsed.username) : parsed.searchParams.get('username');
  const auth = password ? ['AUTH', ...(username ? [username] : []), password] : null;
  const command = (args: string[]): string => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
  return new Promise((resolve) => {
    const tls = parsed.protocol === 'rediss:';
    const socket: Socket = tls ? tlsConnect({ host, port, servername: host }) : netConnect({ host, port });
    let reply = '';
    let connected = false;
    const done = (result: string | null): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(3_000, () =>
      done(connected ? refused(`accepted the connection but did not answer PING within 3 s${tls ? '' : ' (does it want TLS, rediss://?)'}`) : unreachable('ETIMEDOUT')),
    );
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const why = networkFailure(err);
      done(why ? unreachable(why) : refused(`could not be used: ${answered(err, url)}`));
    });
    socket.once(tls ? 'secureConnect' : 'connect', () => {
      connected = true;
      socket.write((auth ? command(auth) : '') + command(['PING']));
    });
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      // Whole lines only: +OK (AUTH), then +PONG; an error line (-NOAUTH, -WRONGPASS, -DENIED…) is quoted.
      for (const line of reply.split('\r\n').slice(0, -1)) {
        if (line === '+PONG') return done(null);
        if (line.startsWith('-')) return done(refused(`answered "${line.slice(1, 160)}"`));
        if (line !== '+OK') return done(refused('answered, but not as Redis does'));
      }
    });
  });
}
