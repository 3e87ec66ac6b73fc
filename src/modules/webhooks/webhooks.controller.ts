import { Controller, Get, HttpCode, HttpException, InternalServerErrorException, Logger, Param, Post, Req } from '@nestjs/common';
import { logUnexpected } from '../../infra/errors/unexpected-error';
import type { Request } from 'express';
import type { IncomingWebhookRequest } from '../../providers/provider.types';
import { MAX_WEBHOOK_BODY_BYTES, WebhookError, WebhookErrorCode } from './webhooks.errors';
import { type WebhookOutcome, WebhooksService } from './webhooks.service';

const STATUS: Record<WebhookErrorCode, number> = {
  [WebhookErrorCode.NOT_FOUND]: 404,
  [WebhookErrorCode.UNAUTHORIZED]: 401,
  [WebhookErrorCode.MALFORMED]: 400,
  [WebhookErrorCode.TOO_LARGE]: 413,
  [WebhookErrorCode.RETRY_LATER]: 503,
};

/**
 * Mailgun retries every answer but 200 and 406 for about eight hours (PROVIDERS.md §3.5): a post
 * it cannot make right by sending again (not its format, a server that no longer exists) gets
 * 406. 401 (bad signature) stays: a post signed with a key rotated at Mailgun passes on a retry
 * once the new key is set here. 503 asks for the retry.
 */
const MAILGUN_STATUS: Partial<Record<WebhookErrorCode, number>> = {
  [WebhookErrorCode.MALFORMED]: 406,
  [WebhookErrorCode.NOT_FOUND]: 406,
};

/**
 * POST /webhooks/{provider}/{serverId}: REST, outside the GraphQL bearer guard; each post is
 * authenticated as its provider signs it. Elastic Email's classic notifications are GETs
 * with query parameters, so GET is accepted for it (the adapter checks the secret in the URL).
 */
@Controller('webhooks')
export class WebhooksController {
  private readonly logger = new Logger(WebhooksController.name);

  constructor(private readonly webhooks: WebhooksService) {}

  @Post(':provider/:serverId')
  @HttpCode(200)
  receive(@Param('provider') provider: string, @Param('serverId') serverId: string, @Req() req: Request): Promise<WebhookOutcome> {
    return this.handle(provider, serverId, req);
  }

  @Get(':provider/:serverId')
  receiveGet(@Param('provider') provider: string, @Param('serverId') serverId: string, @Req() req: Request): Promise<WebhookOutcome> {
    if (provider !== 'elasticemail') throw new HttpException({ statusCode: 404, message: 'Unknown webhook endpoint' }, 404);
    return this.handle(provider, serverId, req);
  }

  private async handle(provider: string, serverId: string, req: Request): Promise<WebhookOutcome> {
    try {
      const rawBody = rawBodyOf(req);
      if (rawBody.length > MAX_WEBHOOK_BODY_BYTES) throw new WebhookError(WebhookErrorCode.TOO_LARGE, `Webhook body too large (limit ${MAX_WEBHOOK_BODY_BYTES / 1024 / 1024} MB)`);
      const request: IncomingWebhookRequest = { headers: req.headers, rawBody, url: req.originalUrl };
      return await this.webhooks.ingest(provider, serverId, request);
    } catch (err) {
      if (err instanceof WebhookError) {
        const status = (provider === 'mailgun' ? MAILGUN_STATUS[err.code] : undefined) ?? STATUS[err.code];
        if (err.code === WebhookErrorCode.UNAUTHORIZED) this.logger.warn(`Webhook ${provider} server ${serverId} refused: ${err.reason ?? err.message}`);
        if (err.code === WebhookErrorCode.RETRY_LATER) this.logger.warn(`Webhook ${provider} server ${serverId} answered 503 (retry later): ${err.reason ?? err.message}`);
        throw new HttpException({ statusCode: status, message: err.message }, status);
      }
      const errorId = logUnexpected(this.logger, `Webhook ${provider} server ${serverId} failed`, err);
      throw new InternalServerErrorException({ statusCode: 500, message: `Internal error (id ${errorId})` });
    }
  }
}

/** The bytes as received, read by WebhookBodyMiddleware (the app's parsers skip webhook routes); none for a GET. */
function rawBodyOf(req: Request): Buffer {
  const body: unknown = req.body;
  return Buffer.isBuffer(body) ? body : Buffer.alloc(0);
}
