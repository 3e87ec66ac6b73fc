import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { AppModule } from '../../src/app.module';
import { type AppConfig, buildAppConfig } from '../../src/config/configuration';
import { validateEnv } from '../../src/config/env.validation';
import { configureApp } from '../../src/configure-app';
import { createTestDatabase, dropTestDatabase, TEST_REDIS_URL, urlFor } from './test-db';

export interface GqlResult<T = Record<string, unknown>> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: { code?: string; fields?: string[]; [k: string]: unknown } }[];
}

/**
 * Nothing leaves the machine: unless a test points a provider at its fake, every provider API
 * resolves to a closed loopback port (connection refused at once).
 */
const DEAD_END = 'http://127.0.0.1:9';
export const UNREACHABLE_PROVIDERS = {
  SES_ENDPOINT: DEAD_END,
  SNS_ENDPOINT: DEAD_END,
  SENDGRID_API_URL: DEAD_END,
  MAILGUN_API_URL: DEAD_END,
  SPARKPOST_API_URL: DEAD_END,
  ELASTICEMAIL_API_URL: DEAD_END,
};

export interface TestApp {
  app: NestExpressApplication;
  config: AppConfig;
  databaseUrl: string;
  adminToken: string;
  /** A GraphQL operation through the real HTTP stack (auth, pipes, error formatting). */
  gql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, token?: string | null): Promise<GqlResult<T>>;
  /** Like gql, but fails the test on any error and returns data. */
  gqlOk<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, token?: string | null): Promise<T>;
  http(): ReturnType<typeof request>;
  /** Stops the app (its shutdown hooks run) and keeps the database and Redis keys, for a test to look at what the stop left. */
  closeApp(): Promise<void>;
  /** Stops the app (once, whether or not closeApp ran), then drops its database and Redis keys. */
  close(): Promise<void>;
}

/** Configuration no environment variable sets, for tests that need it (e.g. short provider time-outs). */
export interface TestAppOverrides {
  providers?: Partial<Pick<AppConfig['providers'], 'httpTimeoutMs' | 'smtpConnectionTimeoutMs' | 'smtpGreetingTimeoutMs' | 'smtpSocketTimeoutMs'>>;
  dispatch?: Partial<Pick<AppConfig['dispatch'], 'routeHoldMs'>>;
  quota?: Partial<AppConfig['quota']>;
}

/**
 * The whole app in process on a fresh database (cloned from the migrated template) and its own
 * Redis key prefix. `env` overrides any variable (e.g. ROLE, provider base URLs, DATABASE_URL).
 */
export async function createTestApp(env: Record<string, string> = {}, overrides: TestAppOverrides = {}): Promise<TestApp> {
  // A DATABASE_URL in `env` (a database the test prepared, e.g. on a private cluster) is used
  // as it is: no clone, and nothing dropped at close.
  const database = env.DATABASE_URL ? null : await createTestDatabase();
  const databaseUrl = database ? urlFor(database) : env.DATABASE_URL;
  const adminToken = `test-admin-${randomBytes(16).toString('hex')}`;
  const prefix = `mrtest:${database ?? `own_${randomBytes(4).toString('hex')}`}`;
  const config = buildAppConfig(
    validateEnv({
      NODE_ENV: 'test',
      DATABASE_URL: databaseUrl,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: prefix,
      ADMIN_TOKEN: adminToken,
      CREDENTIALS_KEY: randomBytes(32).toString('base64'),
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      // Tests and benches send far more than 1,200 requests a minute with one token; the
      // rate-limit test sets its own small limit.
      GRAPHQL_RATE_LIMIT: '10000000',
      ...UNREACHABLE_PROVIDERS,
      ...env,
    }),
  );
  Object.assign(config.providers, overrides.providers);
  Object.assign(config.dispatch, overrides.dispatch);
  Object.assign(config.quota, overrides.quota);
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
  // As src/main.ts: no rawBody (WebhookBodyMiddleware alone reads webhook bodies raw).
  const app = moduleRef.createNestApplication<NestExpressApplication>({ bufferLogs: true });
  configureApp(app);
  await app.init();

  const gql = async <T,>(query: string, variables: Record<string, unknown> = {}, token: string | null = adminToken): Promise<GqlResult<T>> => {
    const req = request(app.getHttpServer()).post('/graphql').set('content-type', 'application/json');
    if (token) req.set('authorization', `Bearer ${token}`);
    const res = await req.send({ query, variables });
    const body = res.body as Omit<GqlResult<T>, 'status'>;
    return { status: res.status, data: body.data, errors: body.errors };
  };

  let closing: Promise<void> | undefined;
  const closeApp = (): Promise<void> => (closing ??= app.close());

  return {
    app,
    config,
    databaseUrl,
    adminToken,
    gql,
    async gqlOk<T>(query: string, variables?: Record<string, unknown>, token?: string | null): Promise<T> {
      const res = await gql<T>(query, variables, token);
      if (res.errors?.length || !res.data) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors ?? res)}`);
      return res.data;
    },
    http: () => request(app.getHttpServer()),
    closeApp,
    async close() {
      await closeApp();
      if (database) await dropTestDatabase(database);
      await deleteKeys(prefix);
    },
  };
}

async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
