import { Injectable, type NestMiddleware } from '@nestjs/common';
import { raw, type NextFunction, type Request, type Response } from 'express';
import { MAX_WEBHOOK_BODY_BYTES } from './webhooks.errors';

/**
 * Keeps the exact bytes of every webhook post, whatever its Content-Type: SNS posts JSON as
 * text/plain, which the app's JSON parser skips. (JSON and form posts were already read by the
 * app's parsers with rawBody on; this parser then sees a finished stream and does nothing.)
 * A declared or actual body over the cap is answered 413 before anything else runs.
 */
@Injectable()
export class WebhookBodyMiddleware implements NestMiddleware {
  private readonly parse = raw({ type: () => true, limit: MAX_WEBHOOK_BODY_BYTES });

  use(req: Request, res: Response, next: NextFunction): void {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > MAX_WEBHOOK_BODY_BYTES) {
      tooLarge(res);
      return;
    }
    this.parse(req, res, (err?: unknown) => {
      const status = (err as { status?: unknown } | undefined)?.status;
      if (status === 413) return tooLarge(res);
      if (typeof status === 'number' && status >= 400 && status < 500) {
        res.status(400).json({ statusCode: 400, message: 'Unreadable webhook body' });
        return;
      }
      next(err);
    });
  }
}

function tooLarge(res: Response): void {
  res.status(413).json({ statusCode: 413, message: `Webhook body too large (limit ${MAX_WEBHOOK_BODY_BYTES / 1024 / 1024} MB)` });
}
