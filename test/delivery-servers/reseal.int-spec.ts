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
  const reseal = async (): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await run(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/modules/delivery-servers/reseal-cli.ts'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, NODE_ENV: 'test', DATABASE_URL: t.databaseUrl, CREDENTIALS_KEY: newKey, CREDENTIALS_KEYS_PREVIOUS: oldKey, LOG_LEVEL: 'silent' },
      });
      return { code: 0, stdout: stdout.trim(), stderr: stderr.trim() };
    } catch (err) {
      const failed = err as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout.trim(), stderr: failed.stderr.trim() };
    }
  };

  it('seals every secret sealed under the old key again under the new one, which alone then opens them; a second run has nothing to do', async () => {
    const agency = await newAgency(t);
    const server = await createServer(t, smtpServerInput(agency.id, 2525));
    const state = t.app.get(ServerVault).sealWebhookState(server.id, { secret: 'hook-secret' });
    await rawRows(t.databaseUrl, 'UPDATE delivery_servers SET sealed_webhook_state = $2::jsonb WHERE id = $1', [server.id, JSON.stringify(state)]);
    const before = await keyIds(server.id);

    expect(await reseal()).toEqual({ code: 0, stdout: 'mailroute: 2 secret(s) sealed again under the current key; 0 still under another key (the old keys may go)', stderr: '' });
    const after = await keyIds(server.id);
    expect(after.c).not.toBe(before.c);
    expect(after.w).toBe(after.c);

    // Only the new key configured: both open, with what was stored.
    const onlyNew = buildAppConfig(validateEnv({ CREDENTIALS_KEY: newKey })).credentials;
    const vault = new ServerVault(new CredentialsCipher(onlyNew.keys, onlyNew.currentKeyId));
    const [row] = await rawRows(t.databaseUrl, 'SELECT sealed_credentials, sealed_webhook_state FROM delivery_servers WHERE id = $1', [server.id]);
    expect(vault.credentials({ id: server.id, sealedCredentials: row.sealed_credentials as never })).toMatchObject({ smtp: { host: '127.0.0.1', port: 2525 } });
    expect(vault.webhookState({ id: server.id, sealedWebhookState: row.sealed_webhook_state as never })).toEqual({ secret: 'hook-secret' });

    expect((await reseal()).stdout).toBe('mailroute: 0 secret(s) sealed again under the current key; 0 still under another key (the old keys may go)');
  }, 60_000);

  it('a secret no configured key opens is named (server and column, nothing of the secret), left as it is, and does not stop the others', async () => {
    const agency = await newAgency(t);
    const [broken, fine] = [await createServer(t, smtpServerInput(agency.id, 2525)), await createServer(t, smtpServerInput(agency.id, 2526))];
    // Sealed under a key that is configured nowhere any more.
    await rawRows(t.databaseUrl, `UPDATE delivery_servers SET sealed_credentials = jsonb_set(sealed_credentials, '{k}', '"0000dead"') WHERE id = $1`, [broken.id]);
    const outcome = await reseal();
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toBe(`mailroute: sealed_credentials of delivery server ${broken.id} opens with no configured key: left as it is`);
    expect(outcome.stdout).toMatch(/^mailroute: 1 secret\(s\) sealed again under the current key; 1 still under another key \(the old keys may go only once this says 0\)$/);
    expect((await keyIds(broken.id)).c).toBe('0000dead');
    const onlyNew = buildAppConfig(validateEnv({ CREDENTIALS_KEY: newKey })).credentials;
    expect((await keyIds(fine.id)).c).toBe(onlyNew.currentKeyId);
  }, 60_000);
});
