import { buildAppConfig } from '../../src/config/configuration';
import { ConfigError, validateEnv } from '../../src/config/env.validation';
import { CredentialsCipher } from '../../src/infra/crypto/credentials-cipher';
import { checkPostgres, checkRedis } from '../../src/infra/preflight';

describe('configuration', () => {
  it('fills every default of CONTRACT.md section 1', () => {
    const config = buildAppConfig(validateEnv({}));
    expect(config).toMatchObject({
      port: 3000,
      publicUrl: 'http://localhost:3000',
      role: 'all',
      workerConcurrency: 50,
      database: { url: 'postgres://postgres@127.0.0.1:5432/mailroute' },
      redis: { url: 'redis://127.0.0.1:6379' },
      providers: { allowPrivate: true },
    });
    expect(config.auth.adminTokenGenerated).toBe(true);
    expect(config.snsCertUrlPattern.test('https://sns.us-east-1.amazonaws.com/cert.pem')).toBe(true);
    expect(config.snsCertUrlPattern.test('https://evil.example.com/sns.us-east-1.amazonaws.com/')).toBe(false);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ ROLE: 'scheduler' }, 'ROLE'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL'],
    [{ WORKER_CONCURRENCY: '0' }, 'WORKER_CONCURRENCY'],
    [{ CREDENTIALS_KEY: 'too-short' }, 'CREDENTIALS_KEY'],
    [{ OUTBOUND_ALLOW_PRIVATE: 'maybe' }, 'OUTBOUND_ALLOW_PRIVATE'],
    [{ SENDGRID_API_URL: 'not a url' }, 'SENDGRID_API_URL'],
    [{ SNS_CERT_URL_PATTERN: '([' }, 'SNS_CERT_URL_PATTERN'],
    [{ NODE_ENV: 'production' }, 'CREDENTIALS_KEY'],
    [{ GRAPHQL_RESPONSE_MEMO_MB: '-1' }, 'GRAPHQL_RESPONSE_MEMO_MB'],
    [{ GRAPHQL_RESPONSE_MEMO_MB: '1025' }, 'GRAPHQL_RESPONSE_MEMO_MB'],
  ])('a bad variable stops the start naming it: %j', (env, name) => {
    let error: unknown;
    try {
      validateEnv(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variables).toContain(name);
    expect((error as ConfigError).message).toContain(name);
  });

  const configError = (env: Record<string, string>): ConfigError => {
    try {
      validateEnv(env);
    } catch (err) {
      if (err instanceof ConfigError) return err;
      throw err;
    }
    throw new Error(`${JSON.stringify(env)} was accepted`);
  };

  it.each([
    [{ PUBLIC_URL: 'http://mail.example.com:99999' }, 'PUBLIC_URL', 'is not a valid URL'],
    [{ REDIS_URL: 'redis://:pa/Sx9k@127.0.0.1:6379' }, 'REDIS_URL', 'percent-encode'],
    [{ DATABASE_URL: 'postgres://app:pa#Sx9k@127.0.0.1/mailroute' }, 'DATABASE_URL', 'percent-encode'],
    // new URL() reads these; pg-connection-string does not (a %-escape that is no UTF-8, a missing CA file).
    [{ DATABASE_URL: 'postgres://app:Sx9k%C3%28@127.0.0.1/mailroute' }, 'DATABASE_URL', 'PostgreSQL driver'],
    [{ DATABASE_URL: 'postgres://app:Sx9k@127.0.0.1/mailroute?sslrootcert=/nonexistent/ca.pem' }, 'DATABASE_URL', 'sslrootcert'],
    [{ SES_ENDPOINT: 'https://ses.example.com:70000' }, 'SES_ENDPOINT', 'is not a valid URL'],
    [{ MAILGUN_API_URL: 'https://user:pa/Sx9k@api.example.com' }, 'MAILGUN_API_URL', 'is not a valid URL'],
  ])('a URL that matches its pattern but does not parse stops the start naming it, with a hint and no password: %j', (env, name, hint) => {
    const error = configError(env);
    expect(error.variables).toEqual([name]);
    expect(error.message).toContain(`${name} `);
    expect(error.message).toContain(hint);
    expect(error.message).not.toContain(Object.values(env)[0]);
    expect(error.message).not.toContain('Sx9k');
  });

  it('a variable that is not a number says so, once named (not "PORT PORT must not be greater than 65535")', () => {
    expect(configError({ PORT: 'abc' }).message).toBe('Invalid configuration: PORT must be an integer number');
    expect(configError({ PORT: '70000' }).message).toBe('Invalid configuration: PORT must not be greater than 65535');
    expect(configError({ COMPLAINT_PAUSE_RATE: 'high' }).message).toMatch(/^Invalid configuration: COMPLAINT_PAUSE_RATE must be a number/);
    expect(configError({ ROLE: 'scheduler' }).message).toBe('Invalid configuration: ROLE must be one of the following values: api, worker, all');
    expect(configError({ DATABASE_URL: 'mysql://x' }).message).toBe('Invalid configuration: DATABASE_URL must be a postgres:// URL');
  });

  it('GRAPHQL_RESPONSE_MEMO_MB: 32 MB of kept answers by default, 0 for none', () => {
    expect(buildAppConfig(validateEnv({})).graphql.responseMemoBytes).toBe(32 * 1024 * 1024);
    expect(buildAppConfig(validateEnv({ GRAPHQL_RESPONSE_MEMO_MB: '0' })).graphql.responseMemoBytes).toBe(0);
  });

  it('production defaults: private destinations refused, no generated admin token', () => {
    const config = buildAppConfig(validateEnv({ NODE_ENV: 'production', CREDENTIALS_KEY: Buffer.alloc(32, 7).toString('base64') }));
    expect(config.providers.allowPrivate).toBe(false);
    expect(config.auth.adminToken).toBe('');
    expect(config.credentials.derived).toBe(false);
  });

  it('CREDENTIALS_KEYS_PREVIOUS keeps credentials sealed under a replaced key readable; a malformed one is refused by name', () => {
    const [oldKey, newKey] = [Buffer.alloc(32, 1).toString('base64'), Buffer.alloc(32, 2).toString('base64')];
    const before = buildAppConfig(validateEnv({ CREDENTIALS_KEY: oldKey })).credentials;
    const sealed = new CredentialsCipher(before.keys, before.currentKeyId).seal({ apiKey: 'SG.kept' }, 'server-1');
    const rotated = buildAppConfig(validateEnv({ CREDENTIALS_KEY: newKey, CREDENTIALS_KEYS_PREVIOUS: oldKey })).credentials;
    const cipher = new CredentialsCipher(rotated.keys, rotated.currentKeyId);
    expect(cipher.open(sealed, 'server-1')).toEqual({ apiKey: 'SG.kept' });
    expect(cipher.seal('new', 'server-1').k).not.toBe(sealed.k);
    const withoutPrevious = buildAppConfig(validateEnv({ CREDENTIALS_KEY: newKey })).credentials;
    expect(() => new CredentialsCipher(withoutPrevious.keys, withoutPrevious.currentKeyId).open(sealed, 'server-1')).toThrow(/not configured/);
    expect(() => validateEnv({ CREDENTIALS_KEYS_PREVIOUS: 'short' })).toThrow(expect.objectContaining({ variables: ['CREDENTIALS_KEYS_PREVIOUS'] }));
  });

  it('unreachable PostgreSQL and Redis give one line naming the URL (password hidden) and how to start the service', async () => {
    const pg = await checkPostgres('postgres://postgres:hunter2@127.0.0.1:1/mailroute');
    expect(pg).toMatch(/^PostgreSQL is not reachable at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/mailroute .*pg_ctlcluster.*DATABASE_URL\.$/);
    expect(pg).not.toContain('hunter2');
    expect(pg).not.toContain('\n');
    const redis = await checkRedis('redis://127.0.0.1:1');
    expect(redis).toMatch(/^Redis is not reachable at redis:\/\/127\.0\.0\.1:1 .*redis-server.*REDIS_URL\.$/);
    expect(await checkRedis('redis://127.0.0.1:6379')).toBeNull();
  });
});
