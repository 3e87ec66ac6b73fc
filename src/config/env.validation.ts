import { plainToInstance, Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsNumber, IsOptional, IsString, Matches, Max, Min, type ValidationError, ValidateBy, validateSync } from 'class-validator';
import { parse as parsePgUrl } from 'pg-connection-string';

const toBool = ({ value }: { value: unknown }): unknown =>
  value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value;
const toInt = ({ value }: { value: unknown }): unknown => (typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value);
const toNumber = ({ value }: { value: unknown }): unknown => (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value);
const URL_RE = /^[a-z][a-z0-9+.-]*:\/\/\S+$/i;

const URL_HINT = 'check the port (1-65535) and percent-encode special characters in the user name and password (e.g. / as %2F, @ as %40, # as %23, % as %25)';

/**
 * What is wrong with a URL that passed its pattern, or null: `new URL()` must read it (the app
 * and its clients do), and for DATABASE_URL the PostgreSQL driver's own parser too. Never
 * quotes the value or the driver's words (either may hold the password).
 */
function urlProblem(value: string, driver?: 'pg'): string | null {
  try {
    new URL(value);
  } catch {
    return `is not a valid URL: ${URL_HINT}`;
  }
  if (driver === 'pg') {
    try {
      parsePgUrl(value);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (err instanceof URIError) return `is not read by the PostgreSQL driver (a malformed %-escape): ${URL_HINT}`;
      if (typeof code === 'string') return `is not read by the PostgreSQL driver (${code}): the files named by sslcert, sslkey and sslrootcert must exist and be readable`;
      return 'is not read by the PostgreSQL driver: check its query parameters (sslmode, uselibpqcompat, sslrootcert)';
    }
  }
  return null;
}

/** The value parses as a URL (and, for 'pg', as a PostgreSQL connection string). */
function ParsesAsUrl(driver?: 'pg'): PropertyDecorator {
  return ValidateBy({
    name: 'parsesAsUrl',
    validator: {
      validate: (value: unknown) => typeof value !== 'string' || urlProblem(value, driver) === null,
      defaultMessage: (args) => urlProblem(String(args?.value), driver) ?? 'is not a valid URL',
    },
  });
}

/** Every environment variable mailroute reads, validated once at start (see .env.example). */
export class EnvironmentVariables {
  @IsIn(['development', 'production', 'test'])
  NODE_ENV: 'development' | 'production' | 'test' = 'development';

  @Matches(/^postgres(ql)?:\/\/\S+$/, { message: 'must be a postgres:// URL' })
  @ParsesAsUrl('pg')
  DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/mailroute';

  @Matches(/^rediss?:\/\/\S+$/, { message: 'must be a redis:// URL' })
  @ParsesAsUrl()
  REDIS_URL = 'redis://127.0.0.1:6379';

  /** Prefix of every Redis key (queues, quota counters), so several deployments or test runs can share one Redis. */
  @IsString()
  @Matches(/^[A-Za-z0-9:_-]{1,64}$/, { message: 'must be 1-64 letters, digits, ":", "_" or "-"' })
  REDIS_PREFIX = 'mailroute';

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(65535)
  PORT = 3000;

  @Matches(URL_RE, { message: 'must be an absolute URL' })
  @ParsesAsUrl()
  PUBLIC_URL = 'http://localhost:3000';

  @IsIn(['api', 'worker', 'all'])
  ROLE: 'api' | 'worker' | 'all' = 'all';

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1000)
  WORKER_CONCURRENCY = 50;

  /** Attempts per message for temporary provider failures before it is FAILED. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(50)
  MAX_SEND_ATTEMPTS = 5;

  /** First retry delay; each further one doubles (capped at an hour), with jitter. */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(3_600_000)
  RETRY_BASE_MS = 30_000;

  /** How often the sweeper re-queues messages whose job is missing (after a Redis loss or a crash). */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(600_000)
  SWEEP_INTERVAL_MS = 15_000;

  /**
   * A message SENDING this long whose queue job holds no lock (its worker died) is sent again by
   * the sweeper. A live worker renews its lock, so this only bounds how long a crash delays mail.
   */
  @Transform(toInt)
  @IsInt()
  @Min(1_000)
  @Max(3_600_000)
  STUCK_SENDING_MS = 300_000;

  /** Bull job lock (ms): renewed while a send runs; a dead worker's jobs stall after it lapses. */
  @Transform(toInt)
  @IsInt()
  @Min(1_000)
  @Max(3_600_000)
  QUEUE_LOCK_MS = 120_000;

  /** GraphQL requests one bearer token may make per minute, across every API process (RATE_LIMITED beyond). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  GRAPHQL_RATE_LIMIT = 1_200;

  /** Deepest selection a GraphQL operation may nest. */
  @Transform(toInt)
  @IsInt()
  @Min(2)
  @Max(100)
  GRAPHQL_MAX_DEPTH = 10;

  /** Highest estimated cost (fields × page sizes) a GraphQL operation may have. */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(100_000_000)
  GRAPHQL_MAX_COST = 50_000;

  /** Megabytes of memoized query answers each API process keeps (ResponseMemo, counted in characters: roughly); 0 turns the memo off. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(1_024)
  GRAPHQL_RESPONSE_MEMO_MB = 32;

  @IsOptional()
  @IsString()
  @Matches(/^\S{16,}$/, { message: 'must be at least 16 characters without spaces' })
  ADMIN_TOKEN?: string;

  @IsOptional()
  @Matches(/^[A-Za-z0-9+/]{43}=$/, { message: 'must be 32 bytes, base64-encoded' })
  CREDENTIALS_KEY?: string;

  /** Keys CREDENTIALS_KEY replaced (comma-separated): secrets sealed under them stay readable until rewritten. */
  @IsOptional()
  @Matches(/^[A-Za-z0-9+/]{43}=(,[A-Za-z0-9+/]{43}=)*$/, { message: 'must be 32-byte base64 keys separated by commas' })
  CREDENTIALS_KEYS_PREVIOUS?: string;

  @IsOptional()
  @Transform(toBool)
  @IsBoolean()
  OUTBOUND_ALLOW_PRIVATE?: boolean;

  @IsOptional() @Matches(URL_RE, { message: 'must be an absolute URL' }) @ParsesAsUrl() SES_ENDPOINT?: string;
  @IsOptional() @Matches(URL_RE, { message: 'must be an absolute URL' }) @ParsesAsUrl() SNS_ENDPOINT?: string;
  @IsOptional() @Matches(URL_RE, { message: 'must be an absolute URL' }) @ParsesAsUrl() SENDGRID_API_URL?: string;
  @IsOptional() @Matches(URL_RE, { message: 'must be an absolute URL' }) @ParsesAsUrl() MAILGUN_API_URL?: string;
  @IsOptional() @Matches(URL_RE, { message: 'must be an absolute URL' }) @ParsesAsUrl() SPARKPOST_API_URL?: string;
  @IsOptional() @Matches(URL_RE, { message: 'must be an absolute URL' }) @ParsesAsUrl() ELASTICEMAIL_API_URL?: string;

  @IsString()
  SNS_CERT_URL_PATTERN = '^https://sns\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/';

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  /** 24 h complaint rate (0.003 = 0.3 %) above which a delivery server is paused automatically. */
  @Transform(toNumber)
  @IsNumber()
  @Min(0)
  @Max(1)
  COMPLAINT_PAUSE_RATE = 0.003;

  /** Messages a server must have sent in the last 24 h before its complaint rate can pause it. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  COMPLAINT_PAUSE_MIN_SENT = 100;

  /** Days a webhook event that matched no message is kept (for audit) before it is deleted; 0 keeps them for ever. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3650)
  UNMATCHED_EVENT_RETENTION_DAYS = 30;
}

/** Thrown for a bad variable; the message names every offending variable and nothing else. */
export class ConfigError extends Error {
  constructor(readonly variables: string[], message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Which failed constraint to report first: the type (PORT=abc is "not an integer", not "greater
 * than 65535"), then the form, then ranges and the rest.
 */
const CONSTRAINT_ORDER = ['isBoolean', 'isInt', 'isNumber', 'isString', 'isIn', 'matches'];
const rank = (name: string): number => (CONSTRAINT_ORDER.includes(name) ? CONSTRAINT_ORDER.indexOf(name) : CONSTRAINT_ORDER.length);

/** "NAME what is wrong": class-validator's own messages already start with the name, ours do not. */
function describe(error: ValidationError): string {
  const [first] = Object.entries(error.constraints ?? {}).sort(([a], [b]) => rank(a) - rank(b));
  const message = first?.[1] ?? 'is invalid';
  return `${error.property} ${message.startsWith(`${error.property} `) ? message.slice(error.property.length + 1) : message}`;
}

export function validateEnv(raw: Record<string, unknown>): EnvironmentVariables {
  // Empty strings mean "unset" (a blank line copied from .env.example must not fail the start).
  const cleaned = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== '' && v !== undefined));
  const env = plainToInstance(EnvironmentVariables, cleaned, { exposeDefaultValues: true });
  const errors = validateSync(env, { skipMissingProperties: false, whitelist: false });
  const problems = errors.map(describe);
  if (env.NODE_ENV === 'production' && !env.CREDENTIALS_KEY) problems.push('CREDENTIALS_KEY is required when NODE_ENV=production');
  try {
    new RegExp(env.SNS_CERT_URL_PATTERN);
  } catch {
    problems.push('SNS_CERT_URL_PATTERN must be a valid regular expression');
  }
  if (problems.length) {
    throw new ConfigError(
      problems.map((p) => p.split(' ')[0]),
      `Invalid configuration: ${problems.join('; ')}`,
    );
  }
  return env;
}
