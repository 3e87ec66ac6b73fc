import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoggerModule, PinoLogger } from 'nestjs-pino';
import { pinoHttp } from 'pino-http';
import { APP_CONFIG, AppConfig } from '../../config/configuration';

/** Paths pino blanks out wherever they appear in a log object. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  '*.password',
  '*.apiKey',
  '*.secretAccessKey',
  '*.token',
  '*.webhookSigningKey',
  '*.credentials',
];

/**
 * Pino everywhere (Nest's Logger writes through nestjs-pino), plus one pino-http line per
 * request with its id. nestjs-pino's own request middleware is left off (`forRoutes: []`):
 * it binds each request's logger with AsyncLocalStorage, and on Node 20 that hooks every
 * promise of the request, about 12% of the CPU of a 100-server `deliveryServers` query
 * (docs/performance.md). Log lines written while serving a request therefore carry no
 * request id; errors shown to a client carry an `errorId` that their log line carries too.
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        forRoutes: [],
        // The root logger, which Nest's Logger writes through: errors as name and message only.
        pinoHttp: { level: config.logLevel, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, serializers: { err: describeError } },
      }),
    }),
  ],
})
export class LoggingModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    // Built on the first request: nestjs-pino sets PinoLogger.root when its own module is
    // configured, which may come after this one.
    let handler: Middleware | undefined;
    consumer.apply((req: IncomingMessage, res: ServerResponse, next: () => void) => (handler ??= requestLogger())(req, res, next)).forRoutes('*');
  }
}

/** Name and message only: no stack traces (nor a driver error's SQL) in log lines. */
function describeError(err: { name?: unknown; type?: unknown; message?: unknown }): { type: unknown; message: unknown } {
  return { type: err.name ?? err.type, message: err.message };
}

type Middleware = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

function requestLogger(): Middleware {
  return pinoHttp({
    // The root logger nestjs-pino built above: same level, same redaction.
    logger: PinoLogger.root,
    // A request id per request, taken from X-Request-Id when the caller sends a sane one.
    genReqId: (req: IncomingMessage, res: ServerResponse) => {
      const given = req.headers['x-request-id'];
      const id = typeof given === 'string' && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
      res.setHeader('x-request-id', id);
      return id;
    },
    autoLogging: { ignore: (req: IncomingMessage) => (req.url ?? '').startsWith('/health') },
    // Bodies are never logged: they carry credentials and mail content.
    serializers: {
      req: (req: { id: unknown; method: unknown; url: unknown }) => ({ id: req.id, method: req.method, url: String(req.url).split('?')[0] }),
      res: (res: { statusCode: unknown }) => ({ statusCode: res.statusCode }),
      err: describeError,
    },
  });
}
