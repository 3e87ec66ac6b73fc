import { Injectable, type NestMiddleware } from '@nestjs/common';
import { raw, type NextFunction, type Request, type Response } from 'express';
import type { IncomingMessage } from 'node:http';
import { MAX_WEBHOOK_BODY_BYTES } from './webhooks.errors';

/** WebhooksController's routes. Express matches paths case-insensitively, so this does too. */
const WEBHOOK_PATH = /^\/webhooks(?:[/?#]|$)/i;
/**
 * Mailgun retries every answer but 200 and 406 for about eight hours (PROVIDERS.md §3.5): a body
 * it cannot make right by sending again is refused with 406 there, as WebhooksController does.
 */
const MAILGUN_PATH = /^\/webhooks\/mailgun(?:[/?#]|$)/i;

/**
 * The `type` test for the app-wide JSON and form parsers (configureApp): `mediaType` everywhere
 * but on the webhook routes, whose bytes WebhookBodyMiddleware alone reads. Without it a webhook
 * post would be read and parsed whole under the app's 4 MB GraphQL limit before the 1 MB cap.
 */
export function parsedOutsideWebhooks(mediaType: string): (req: IncomingMessage) => boolean {
  return (req) => !WEBHOOK_PATH.test(req.url ?? '') && Boolean((req as Request).is(mediaType));
}

/**
 * Reads every webhook post as its exact bytes, whatever its Content-Type (SendGrid signs the
 * bytes; SNS posts JSON as text/plain), into req.body as a Buffer. The app's parsers leave these
 * routes alone (parsedOutsideWebhooks), so the cap comes first: a declared size over it is
 * answered 413 before a byte is read; an undeclared (chunked) one keeps nothing past the cap and
 * is answered 413 once the rest has been read off and dropped.
 */
@Injectable()
export class WebhookBodyMiddleware implements NestMiddleware {
  private readonly parse = raw({ type: () => true, limit: MAX_WEBHOOK_BODY_BYTES });

  use(req: Request, res: Response, next: NextFunction): void {
    const noRetry = MAILGUN_PATH.test(req.originalUrl || req.url) ? 406 : undefined;
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > MAX_WEBHOOK_BODY_BYTES) {
      tooLarge(res, noRetry);
      return;
    }
    this.parse(req, res, (err?: unknown) => {
      const status = (err as { status?: unknown } | undefined)?.status;
      if (status === 413) return tooLarge(res, noRetry);
      if (typeof status === 'number' && status >= 400 && status < 500) {
        res.status(noRetry ?? 400).json({ statusCode: noRetry ?? 400, message: 'Unreadable webhook body' });
        return;
      }
      next(err);
    });
  }
}

function tooLarge(res: Response, status = 413): void {
  res.status(status).json({ statusCode: status, message: `Webhook body too large (limit ${MAX_WEBHOOK_BODY_BYTES / 1024 / 1024} MB)` });
}
