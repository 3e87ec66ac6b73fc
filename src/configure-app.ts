import { ValidationPipe } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { AllExceptionsFilter } from './infra/errors/all-exceptions.filter';
import { toBadUserInput } from './infra/errors/validation-errors';
import { parsedOutsideWebhooks } from './modules/webhooks/webhook-body.middleware';

/** GraphQL bodies up to 4 MB: a 50,000-recipient createCampaign fits; larger is HTTP 413. */
export const MAX_BODY = '4mb';

/** Everything main.ts does to the app besides listening; tests call the same function. */
export function configureApp(app: NestExpressApplication): void {
  app.useLogger(app.get(Logger));
  // Express hashes every response body for a weak ETag, which only a conditional GET could use:
  // GraphQL answers are POSTed, so that was a SHA-1 over each answer (70 KB for 100 servers) for nothing.
  app.set('etag', false);
  // Webhook posts are left to WebhookBodyMiddleware, which reads their raw bytes under the 1 MB cap.
  app.useBodyParser('json', { limit: MAX_BODY, type: parsedOutsideWebhooks('application/json') });
  app.useBodyParser('urlencoded', { extended: true, type: parsedOutsideWebhooks('application/x-www-form-urlencoded') });
  app.useGlobalPipes(
    new ValidationPipe({
      transform: true,
      forbidUnknownValues: false,
      validationError: { target: false, value: false },
      exceptionFactory: (errors) => toBadUserInput(errors),
    }),
  );
  app.useGlobalFilters(new AllExceptionsFilter());
  app.enableShutdownHooks();
}
