import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
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
    // 28xxx: the server answered and refused the login (wrong password, not allowed in).
    if (why.startsWith('28')) return `PostgreSQL at ${redactUrl(url)} refused the login (${why}): check the user and password in DATABASE_URL.`;
    // Any other SQLSTATE: the server answered, but the database could not be opened or created.
    if (/^[0-9A-Z]{5}$/.test(why)) {
      return `PostgreSQL at ${redactUrl(url)} answered, but its database could not be opened or created (${why}): check the database in DATABASE_URL, or let its user create it (CREATEDB).`;
    }
    return (
      `PostgreSQL is not reachable at ${redactUrl(url)} (${why}). Start it ` +
      `(pg_ctlcluster --skip-systemctl-redirect <version> main start) or set DATABASE_URL.`
    );
  }
}

/**
 * A raw PING over a socket rather than an ioredis client: a client that fails to connect keeps
 * timers alive after disconnect(), and a one-shot check should leave nothing running.
 */
export async function checkRedis(url: string): Promise<string | null> {
  const problem = (why: string): string => `Redis is not reachable at ${redactUrl(url)} (${why}). Start it (redis-server --daemonize yes) or set REDIS_URL.`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return problem('unparseable URL');
  }
  const port = Number(parsed.port || 6379);
  const host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const auth = parsed.password ? ['AUTH', ...(parsed.username ? [decodeURIComponent(parsed.username)] : []), decodeURIComponent(parsed.password)] : null;
  const command = (args: string[]): string => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
  return new Promise((resolve) => {
    const socket: Socket = parsed.protocol === 'rediss:' ? tlsConnect({ host, port, servername: host }) : netConnect({ host, port });
    let reply = '';
    const done = (result: string | null): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(3_000, () => done(problem('ETIMEDOUT')));
    socket.once('error', (err: NodeJS.ErrnoException) => done(problem(err.code ?? 'no answer')));
    socket.once(parsed.protocol === 'rediss:' ? 'secureConnect' : 'connect', () => socket.write((auth ? command(auth) : '') + command(['PING'])));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (reply.includes('+PONG')) done(null);
      else if (reply.startsWith('-')) done(problem(`it answered: ${reply.split('\r\n')[0].slice(1, 80)}`));
    });
  });
}
