import { Module } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { LoggerModule } from 'nestjs-pino';
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

@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        pinoHttp: {
          level: config.logLevel,
          redact: { paths: REDACT_PATHS, censor: '[redacted]' },
          // A request id per request, taken from X-Request-Id when the caller sends a sane one.
          genReqId: (req, res) => {
            const given = req.headers['x-request-id'];
            const id = typeof given === 'string' && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
            res.setHeader('x-request-id', id);
            return id;
          },
          autoLogging: { ignore: (req) => (req.url ?? '').startsWith('/health') },
          // Bodies are never logged: they carry credentials and mail content.
          serializers: {
            req: (req: { id: unknown; method: unknown; url: unknown }) => ({ id: req.id, method: req.method, url: String(req.url).split('?')[0] }),
            res: (res: { statusCode: unknown }) => ({ statusCode: res.statusCode }),
            // Name and message only: no stack traces (nor a driver error's SQL) in log lines.
            err: (err: { name?: unknown; type?: unknown; message?: unknown }) => ({ type: err.name ?? err.type, message: err.message }),
          },
        },
      }),
    }),
  ],
})
export class LoggingModule {}
