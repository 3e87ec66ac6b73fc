import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createTestApp, type TestApp, UNREACHABLE_PROVIDERS } from '../utils/create-test-app';
import { waitFor } from '../utils/wait-for';

const SMTP_PASSWORD = 'probe-password-5c1e';
const BAD_TOKEN = 'mr_probe-token-not-issued-7f3a';

/** What the API writes to its log (stdout, JSON lines) while serving real requests, read from a real process. */
describe('log lines', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ ROLE: 'api' });
  });
  afterAll(() => t.close());

  it('carry the request id, never a token, password, SQL or stack trace', async () => {
    const { keys, currentKeyId } = t.config.credentials;
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join('test', 'infra', 'log-probe-process.ts')], {
      cwd: join(__dirname, '..', '..'),
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        ROLE: 'api',
        PORT: '3999', // required by the config; the probe listens on a free port instead
        DATABASE_URL: t.databaseUrl,
        REDIS_URL: t.config.redis.url,
        REDIS_PREFIX: t.config.redis.prefix,
        CREDENTIALS_KEY: keys[currentKeyId].toString('base64'),
        ADMIN_TOKEN: t.adminToken,
        LOG_LEVEL: 'info',
        ...UNREACHABLE_PROVIDERS,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr.resume();
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      const port = await waitFor('the probe to listen', async () => Number(/^listening (\d+)$/m.exec(out)?.[1]) || null, 60_000);
      const post = (token: string, requestId: string, body: object): Promise<Response> =>
        fetch(`http://127.0.0.1:${port}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-request-id': requestId },
          body: JSON.stringify(body),
        });
      // A refused token, and a server created with a password (both in the request, neither may be logged).
      expect((await post(BAD_TOKEN, 'probe-req-1', { query: '{ viewer { role } }' })).status).toBe(401);
      const create = await post(t.adminToken, 'probe-req-2', {
        query: 'mutation($input: CreateDeliveryServerInput!) { createDeliveryServer(input: $input) { id } }',
        variables: { input: { name: 'Probe relay', provider: 'SMTP', credentials: { smtp: { host: '127.0.0.1', port: 1, security: 'NONE', username: 'probe', password: SMTP_PASSWORD } } } },
      });
      expect(create.status).toBe(200);
      child.stdin.write('log-errors\n');
      await waitFor('both probe errors in the log', async () => (out.match(/"context":"Probe"/g) ?? []).length >= 2, 10_000);
    } finally {
      child.stdin.end();
      await exited;
    }

    const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const requests = lines.filter((l) => l.msg === 'request completed') as { req: { id: string; method: string; url: string }; res: { statusCode: number } }[];
    expect(requests.map((r) => r.req)).toEqual(
      expect.arrayContaining([
        { id: 'probe-req-1', method: 'POST', url: '/graphql' },
        { id: 'probe-req-2', method: 'POST', url: '/graphql' },
      ]),
    );
    const probeErrors = lines.filter((l) => l.context === 'Probe');
    expect(probeErrors.map((l) => l.err)).toEqual([
      { type: 'Error', message: 'probe failed' },
      { type: 'Error', message: 'driver failed' },
    ]);
    for (const secret of [BAD_TOKEN, t.adminToken, SMTP_PASSWORD, 'probe_secret_sql', 'probe-parameter', 'probe stack', '    at ']) {
      expect(out).not.toContain(secret);
    }
  }, 90_000);
});
