import { createHash, randomBytes } from 'node:crypto';
import { DEFAULT_PROVIDER_TIMEOUTS, type ProvidersConfig } from '../providers/providers.config';
import { type EnvironmentVariables } from './env.validation';

/** The typed configuration the app reads; built once from validated env. */
export interface AppConfig {
  nodeEnv: EnvironmentVariables['NODE_ENV'];
  port: number;
  publicUrl: string;
  role: EnvironmentVariables['ROLE'];
  workerConcurrency: number;
  dispatch: { maxAttempts: number; retryBaseMs: number; sweepIntervalMs: number; stuckSendingMs: number; queueLockMs: number; routeHoldMs: number };
  graphql: { rateLimitPerMinute: number; maxDepth: number; maxCost: number; responseMemoBytes: number };
  logLevel: string;
  database: { url: string };
  redis: { url: string; prefix: string };
  auth: { adminToken: string; adminTokenGenerated: boolean };
  credentials: { keys: Record<string, Buffer>; currentKeyId: string; derived: boolean };
  providers: ProvidersConfig;
  snsCertUrlPattern: RegExp;
  webhooks: { complaintPauseRate: number; complaintPauseMinSent: number; unmatchedRetentionDays: number };
  /**
   * When a quota counter rebuilt from the ledger is counted again for the sends in flight when
   * Redis lost its data: once such a send has surely ended (an SMTP conversation's deadline is
   * 80 s), and once more after a SENT record delayed by a database outage (retried up to 10 min).
   * Not an env setting.
   */
  quota: { reconcileAfterMs: number[] };
}

export const APP_CONFIG = 'APP_CONFIG';

export function buildAppConfig(env: EnvironmentVariables): AppConfig {
  const production = env.NODE_ENV === 'production';
  const adminToken = env.ADMIN_TOKEN ?? (production ? '' : `mr_admin_${randomBytes(24).toString('base64url')}`);
  // Development without CREDENTIALS_KEY derives a stable key from the database URL so stored
  // secrets stay readable across restarts; main.ts warns about it.
  const key = env.CREDENTIALS_KEY
    ? Buffer.from(env.CREDENTIALS_KEY, 'base64')
    : createHash('sha256').update(`mailroute-dev-key:${env.DATABASE_URL}`).digest();
  const keyIdOf = (k: Buffer): string => createHash('sha256').update(k).digest('hex').slice(0, 8);
  const keyId = keyIdOf(key);
  // Keys rotated out: still opened (rows are sealed again under the current key when rewritten).
  const previous = (env.CREDENTIALS_KEYS_PREVIOUS ?? '').split(',').filter(Boolean).map((k) => Buffer.from(k, 'base64'));
  const keys = Object.fromEntries([...previous, key].map((k) => [keyIdOf(k), k]));
  return {
    nodeEnv: env.NODE_ENV,
    port: env.PORT,
    publicUrl: env.PUBLIC_URL.replace(/\/+$/, ''),
    role: env.ROLE,
    workerConcurrency: env.WORKER_CONCURRENCY,
    dispatch: {
      maxAttempts: env.MAX_SEND_ATTEMPTS,
      retryBaseMs: env.RETRY_BASE_MS,
      sweepIntervalMs: env.SWEEP_INTERVAL_MS,
      stuckSendingMs: env.STUCK_SENDING_MS,
      queueLockMs: env.QUEUE_LOCK_MS,
      // How long the worker shares a routing answer (DispatchService); not an env setting.
      routeHoldMs: 250,
    },
    graphql: { rateLimitPerMinute: env.GRAPHQL_RATE_LIMIT, maxDepth: env.GRAPHQL_MAX_DEPTH, maxCost: env.GRAPHQL_MAX_COST, responseMemoBytes: env.GRAPHQL_RESPONSE_MEMO_MB * 1024 * 1024 },
    logLevel: env.LOG_LEVEL,
    database: { url: env.DATABASE_URL },
    redis: { url: env.REDIS_URL, prefix: env.REDIS_PREFIX },
    quota: { reconcileAfterMs: [2 * 60_000, 12 * 60_000] },
    auth: { adminToken, adminTokenGenerated: !env.ADMIN_TOKEN && !production },
    credentials: { keys, currentKeyId: keyId, derived: !env.CREDENTIALS_KEY },
    providers: {
      sesEndpoint: env.SES_ENDPOINT,
      snsEndpoint: env.SNS_ENDPOINT,
      sendgridApiUrl: env.SENDGRID_API_URL,
      mailgunApiUrl: env.MAILGUN_API_URL,
      sparkpostApiUrl: env.SPARKPOST_API_URL,
      elasticEmailApiUrl: env.ELASTICEMAIL_API_URL,
      allowPrivate: env.OUTBOUND_ALLOW_PRIVATE ?? !production,
      snsCertUrlPattern: new RegExp(env.SNS_CERT_URL_PATTERN),
      ...DEFAULT_PROVIDER_TIMEOUTS,
    },
    snsCertUrlPattern: new RegExp(env.SNS_CERT_URL_PATTERN),
    webhooks: { complaintPauseRate: env.COMPLAINT_PAUSE_RATE, complaintPauseMinSent: env.COMPLAINT_PAUSE_MIN_SENT, unmatchedRetentionDays: env.UNMATCHED_EVENT_RETENTION_DAYS },
  };
}
