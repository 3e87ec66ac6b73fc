import { randomUUID } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { ensureDatabase, redactUrl } from '../../src/infra/database/ensure-database';
import { checkPostgres } from '../../src/infra/preflight';
import { TEST_PG_URL } from '../utils/test-db';

/**
 * ensureDatabase and the start-up check, through a TCP relay to PostgreSQL that notes the database
 * each connection asks for (the startup message names it in clear: tests use no TLS).
 */
describe('ensureDatabase', () => {
  let relay: Server;
  const asked: string[] = [];
  const sockets = new Set<Socket>();
  const target = new URL(TEST_PG_URL);
  beforeAll(async () => {
    relay = createServer((client) => {
      const server = connect(Number(target.port || 5432), target.hostname);
      for (const s of [client, server]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => client.destroy());
      }
      client.once('data', (first: Buffer) => {
        const fields = first.subarray(8).toString('utf8').split('\0');
        const at = fields.indexOf('database');
        if (at >= 0) asked.push(fields[at + 1]);
      });
      client.pipe(server).pipe(client);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => relay.close(resolve));
  });
  const through = (database: string): string => {
    const url = new URL(TEST_PG_URL);
    url.host = `127.0.0.1:${(relay.address() as AddressInfo).port}`;
    url.pathname = `/${database}`;
    return url.toString();
  };

  it("enters only the app's own database when it exists (a user may be allowed nowhere else); creates a missing one through the maintenance database", async () => {
    const name = `mailroute_ensure_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const admin = new Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    try {
      asked.length = 0;
      expect(await ensureDatabase(through(name))).toBe(true);
      expect(asked).toEqual([name, 'postgres']);
      asked.length = 0;
      expect(await ensureDatabase(through(name))).toBe(false);
      expect(asked).toEqual([name]);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS "${name}"`);
      await admin.end();
    }
  });

  it('two processes creating the same missing database at once both go on (the second CREATE fails 23505, not 42P04)', async () => {
    const name = `mailroute_race_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const tag = `mr_race_${randomUUID().replace(/-/g, '').slice(0, 8)}`;
    const url = new URL(TEST_PG_URL);
    url.pathname = `/${name}`;
    url.searchParams.set('application_name', tag);
    const admin = new Client({ connectionString: TEST_PG_URL });
    const holder = new Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    await holder.connect();
    try {
      // Both CREATE DATABASE statements pass PostgreSQL's own "already exists" check (42P04) and
      // then wait here, on the row lock of pg_database; released together, one inserts the row
      // and the other's insert, waiting for it on the unique name index, fails with 23505.
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE pg_catalog.pg_database IN SHARE MODE');
      const both = Promise.allSettled([ensureDatabase(url.toString()), ensureDatabase(url.toString())]);
      const deadline = Date.now() + 10_000;
      const waiting = async (): Promise<number> =>
        Number(
          (
            await admin.query(
              `SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock' AND query LIKE 'CREATE DATABASE%'`,
              [tag],
            )
          ).rows[0].n,
        );
      while ((await waiting()) < 2) {
        if (Date.now() > deadline) throw new Error('the two CREATE DATABASE statements never both waited on pg_database');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await holder.query('COMMIT');
      const results = await both;
      expect(results.map((r) => (r.status === 'rejected' ? String((r.reason as { code?: string }).code ?? r.reason) : 'ok'))).toEqual(['ok', 'ok']);
      const opened = new Client({ connectionString: url.toString() });
      await opened.connect();
      await opened.end();
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
      await admin.query(`DROP DATABASE IF EXISTS "${name}"`);
      await admin.end();
    }
  });

  it('redactUrl hides the password wherever pg-connection-string or ioredis reads one: user:pass@, ?password=, ?sslpassword=', () => {
    const redacted = redactUrl('postgres://app:hunter2@db:5432/mailroute?sslmode=verify-full&sslpassword=keypass9&password=other7&application_name=x');
    expect(redacted).toBe('postgres://app:***@db:5432/mailroute?sslmode=verify-full&sslpassword=***&password=***&application_name=x');
    expect(redactUrl('redis://127.0.0.1:6379/0?password=s3cr3t&PASSWORD=S3CR3T')).toBe('redis://127.0.0.1:6379/0?password=***&PASSWORD=***');
    expect(redactUrl('postgres://u:pa/ss@h/db')).toBe('(unparseable URL)');
  });

  it('says a database that could not be created is that, not a server to start', async () => {
    const role = `mr_nocreate_${randomUUID().replace(/-/g, '').slice(0, 8)}`;
    const admin = new Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    try {
      await admin.query(`CREATE ROLE ${role} LOGIN NOCREATEDB`);
      const url = new URL(TEST_PG_URL);
      url.username = role;
      url.pathname = `/${role}_missing`;
      const problem = await checkPostgres(url.toString());
      expect(problem).toMatch(/answered, but its database could not be opened or created \(42501\)/);
      expect(problem).not.toContain('pg_ctlcluster');
    } finally {
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    }
  });

  it('says a refused login is a login problem, not a server to start', async () => {
    const url = new URL(TEST_PG_URL);
    url.username = `no_such_role_${randomUUID().replace(/-/g, '').slice(0, 8)}`;
    url.password = 'hunter2';
    const problem = await checkPostgres(url.toString());
    expect(problem).toMatch(/refused the login \(28[0-9A-Z]{3}\): check the user and password in DATABASE_URL\.$/);
    expect(problem).not.toContain('hunter2');
    expect(problem).not.toContain('pg_ctlcluster');
  });
});
