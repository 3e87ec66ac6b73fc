/** Why a webhook post was refused; the controller maps each code to one HTTP status. */
export enum WebhookErrorCode {
  /** Unknown provider slug, unknown server, or a server of another provider: 404. */
  NOT_FOUND = 'NOT_FOUND',
  /** Missing or bad signature / credentials, or a replayed Mailgun token: 401. */
  UNAUTHORIZED = 'UNAUTHORIZED',
  /** Not the provider's format: 400. */
  MALFORMED = 'MALFORMED',
  /** Over MAX_WEBHOOK_BODY_BYTES: 413. */
  TOO_LARGE = 'TOO_LARGE',
  /**
   * Cannot be checked or applied yet (the SNS signing certificate cannot be fetched now, a
   * confirmation ahead of its registration): 503, which providers retry (a 4xx they drop).
   */
  RETRY_LATER = 'RETRY_LATER',
}

/**
 * A refused webhook post. `message` is safe to show (it never carries a secret or request
 * data); `reason` is the adapter's explanation, for the log line only.
 */
export class WebhookError extends Error {
  constructor(
    readonly code: WebhookErrorCode,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'WebhookError';
  }
}

/** Providers post small batches (SendGrid and SparkPost well under 1 MB); anything bigger is refused. */
export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024;
