import { DataSource } from 'typeorm';
import { createTestApp, type TestApp } from '../utils/create-test-app';

describe('health, readiness and ROLE', () => {
  const apps: TestApp[] = [];
  afterAll(async () => {
    for (const app of apps) await app.close();
  });
  const start = async (env: Record<string, string> = {}): Promise<TestApp> => {
    const app = await createTestApp(env);
    apps.push(app);
    return app;
  };

  it('is live and ready when PostgreSQL and Redis answer', async () => {
    const t = await start();
    expect((await t.http().get('/health')).status).toBe(200);
    const ready = await t.http().get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.info).toMatchObject({ database: { status: 'up' }, redis: { status: 'up' } });
  });

  it('is live but not ready when Redis is down', async () => {
    const t = await start({ REDIS_URL: 'redis://127.0.0.1:1' });
    expect((await t.http().get('/health')).status).toBe(200);
    const ready = await t.http().get('/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.error).toMatchObject({ redis: { status: 'down' } });
    expect(ready.body.info).toMatchObject({ database: { status: 'up' } });
  });

  it('a worker process serves health but no GraphQL', async () => {
    const t = await start({ ROLE: 'worker' });
    expect((await t.http().get('/health')).status).toBe(200);
    const res = await t.http().post('/graphql').set('authorization', `Bearer ${t.adminToken}`).send({ query: '{ viewer { role } }' });
    expect(res.status).toBe(404);
  });

  it('names its database connections after its ROLE, so pg_stat_activity tells API connections from workers\'', async () => {
    for (const role of ['api', 'worker']) {
      const t = await start({ ROLE: role });
      const rows = await t.app.get(DataSource).query<{ name: string }[]>(`SELECT application_name AS name FROM pg_stat_activity WHERE pid = pg_backend_pid()`);
      expect(rows).toEqual([{ name: `mailroute-${role}` }]);
    }
  });

  it('accepts GraphQL bodies up to 4 MB and refuses larger ones with 413', async () => {
    const t = await start();
    const padding = (bytes: number): string => 'x'.repeat(bytes);
    const ok = await t.http().post('/graphql').set('authorization', `Bearer ${t.adminToken}`).send({ query: '{ viewer { role } }', variables: { pad: padding(3_500_000) } });
    expect(ok.status).toBe(200);
    expect(ok.body.data).toEqual({ viewer: { role: 'ADMIN' } });
    const big = await t.http().post('/graphql').set('authorization', `Bearer ${t.adminToken}`).send({ query: '{ viewer { role } }', variables: { pad: padding(4_300_000) } });
    expect(big.status).toBe(413);
    expect(JSON.stringify(big.body)).not.toMatch(/at .*\.js:\d+/);
  });

  it('answers a malformed query with GRAPHQL_VALIDATION_FAILED and no internals; echoes a request id', async () => {
    const t = await start();
    const res = await t.http().post('/graphql').set('authorization', `Bearer ${t.adminToken}`).set('x-request-id', 'req-123').send({ query: '{ nope }' });
    expect(res.headers['x-request-id']).toBe('req-123');
    expect(res.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(JSON.stringify(res.body)).not.toMatch(/stacktrace|node_modules/);
  });
});
