import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildAppConfig } from '../../src/config/configuration';
import { validateEnv } from '../../src/config/env.validation';
import { CredentialsCipher } from '../../src/infra/crypto/credentials-cipher';
import { ServerVault } from '../../src/modules/delivery-servers/server-vault';
import { newAgency } from '../factories/accounts';
import { createServer, smtpServerInput } from '../factories/delivery-servers';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { rawRows } from '../utils/test-db';

const run = promisify(execFile);
const ROOT = join(__dirname, '../..');

/** `npm run credentials:reseal` after a key rotation, against a real database. */
describe('re-sealing provider secrets under a new CREDENTIALS_KEY', () => {
  const oldKey = randomBytes(32).toString('base64');
  const newKey = randomBytes(32).toString('base64');
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ CREDENTIALS_KEY: oldKey });
  });
  afterAll(() => t.close());

  const keyIds = async (id: string) => (await rawRows(t.databaseUrl, `SELECT sealed_credentials->>'k' AS c, sealed_webhook_state->>'k' AS w FROM delivery_servers WHERE id = $1`, [id]))[0];
  const reseal = async (): Promise<string> => {
    const { stdout } = await run(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/modules/delivery-servers/reseal-cli.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, NODE_ENV: 'test', DATABASE_URL: t.databaseUrl, CREDENTIALS_KEY: newKey, CREDENTIALS_KEYS_PREVIOUS: oldKey, LOG_LEVEL: 'silent' },
    });
    return stdout.trim();
  };

  it('seals every secret sealed under the old key again under the new one, which alone then opens them; a second run has nothing to do', async () => {
    const agency = await newAgency(t);
    const server = await createServer(t, smtpServerInput(agency.id, 2525));
    const state = t.app.get(ServerVault).sealWebhookState(server.id, { secret: 'hook-secret' });
    await rawRows(t.databaseUrl, 'UPDATE delivery_servers SET sealed_webhook_state = $2::jsonb WHERE id = $1', [server.id, JSON.stringify(state)]);
    const before = await keyIds(server.id);

    expect(await reseal()).toBe('mailroute: 2 secret(s) sealed again under the current key');
    const after = await keyIds(server.id);
    expect(after.c).not.toBe(before.c);
    expect(after.w).toBe(after.c);

    // Only the new key configured: both open, with what was stored.
    const onlyNew = buildAppConfig(validateEnv({ CREDENTIALS_KEY: newKey })).credentials;
    const vault = new ServerVault(new CredentialsCipher(onlyNew.keys, onlyNew.currentKeyId));
    const [row] = await rawRows(t.databaseUrl, 'SELECT sealed_credentials, sealed_webhook_state FROM delivery_servers WHERE id = $1', [server.id]);
    expect(vault.credentials({ id: server.id, sealedCredentials: row.sealed_credentials as never })).toMatchObject({ smtp: { host: '127.0.0.1', port: 2525 } });
    expect(vault.webhookState({ id: server.id, sealedWebhookState: row.sealed_webhook_state as never })).toEqual({ secret: 'hook-secret' });

    expect(await reseal()).toBe('mailroute: 0 secret(s) sealed again under the current key');
  }, 60_000);
});
