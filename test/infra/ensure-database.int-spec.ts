import { randomUUID } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { ensureDatabase } from '../../src/infra/database/ensure-database';
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
