// `npm run credentials:reseal`: after CREDENTIALS_KEY was replaced (the old key moved to
// CREDENTIALS_KEYS_PREVIOUS), seals every stored provider secret under the new key, so the old
// one can be dropped. Safe while the app runs (each row is written only if unchanged since read)
// and to run again. Reads `.env` as a start does.
import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { Client } from 'pg';
import { buildAppConfig } from '../../config/configuration';
import { validateEnv } from '../../config/env.validation';
import { CredentialsCipher } from '../../infra/crypto/credentials-cipher';
import { checkPostgres } from '../../infra/preflight';
import { resealServerSecrets } from './reseal-secrets';
import { ServerVault } from './server-vault';

async function reseal(): Promise<string> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = buildAppConfig(validateEnv(process.env));
  const problem = await checkPostgres(config.database.url);
  if (problem) throw new Error(problem);
  const vault = new ServerVault(new CredentialsCipher(config.credentials.keys, config.credentials.currentKeyId));
  const client = new Client({ connectionString: config.database.url });
  await client.connect();
  try {
    const query = async <T>(sql: string, params: unknown[]): Promise<T[]> => (await client.query(sql, params)).rows as T[];
    const outcome = await resealServerSecrets(query, vault, config.credentials.currentKeyId);
    for (const { serverId, column } of outcome.unopenable) {
      process.stderr.write(`mailroute: ${column} of delivery server ${serverId} opens with no configured key: left as it is\n`);
    }
    if (outcome.unopenable.length) process.exitCode = 1;
    return (
      `${outcome.resealed} secret(s) sealed again under the current key; ${outcome.remaining} still under another key` +
      (outcome.remaining ? ' (the old keys may go only once this says 0)' : ' (the old keys may go)')
    );
  } finally {
    await client.end();
  }
}

reseal()
  .then((line) => process.stdout.write(`mailroute: ${line}\n`))
  .catch((err: unknown) => {
    // The message only: a key that cannot open a row names its key id, never a secret.
    process.stderr.write(`mailroute: re-sealing failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
