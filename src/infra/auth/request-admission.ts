import type { Response } from 'express';
import { GraphQLError } from 'graphql';
import type Redis from 'ioredis';
import type { AppConfig } from '../../config/configuration';
import { DomainError, ErrorCode, UnauthenticatedError } from '../errors/domain-error';
import type { RequestWithViewer } from './current-viewer.decorator';
import { RateLimitedError, TokenRateLimiter } from './token-rate-limiter';
import type { TokenAuthenticator, Viewer } from './viewer';

/** The HTTP status of a refused admission: the request as a whole is refused, before parsing. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.UNAUTHENTICATED]: 401,
  [ErrorCode.RATE_LIMITED]: 429,
};

/**
 * Every GraphQL request needs `Authorization: Bearer <token>`, and a token may make at most
 * GRAPHQL_RATE_LIMIT requests a minute. Checked when Apollo builds the request's context, before
 * the document is parsed: an operation that reaches no resolver (`{ __typename }`, introspection)
 * and a malformed one are refused like any other, so nothing of the schema is answered without a
 * token. REST routes (health, webhooks) authenticate their own way.
 */
export class RequestAdmission {
  private readonly rateLimiter: TokenRateLimiter;

  constructor(
    private readonly authenticator: TokenAuthenticator,
    redis: Redis,
    config: AppConfig,
  ) {
    this.rateLimiter = new TokenRateLimiter(redis, config.redis.prefix, config.graphql.rateLimitPerMinute);
  }

  /** Sets `req.viewer`, or throws a GraphQLError carrying the DomainError and the HTTP status. */
  async admit(req: RequestWithViewer, res: Response | undefined): Promise<void> {
    try {
      req.viewer = await this.viewerOf(req, res);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      throw new GraphQLError(err.message, { originalError: err, extensions: { code: err.code, http: { status: STATUS[err.code] ?? 400 } } });
    }
  }

  /** Authenticates the token, then counts the request against its rate limit (unknown tokens are not counted). */
  private async viewerOf(req: RequestWithViewer, res: Response | undefined): Promise<Viewer> {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    // A 401 names the scheme it wants (RFC 9110 §11.6.1, RFC 6750 §3).
    const challenge = (error?: string) => res && !res.headersSent && res.setHeader('WWW-Authenticate', error ? `Bearer error="${error}"` : 'Bearer');
    if (!match) {
      challenge();
      throw new UnauthenticatedError('Send Authorization: Bearer <token>');
    }
    const viewer = await this.authenticator.authenticate(match[1]);
    if (!viewer) {
      challenge('invalid_token');
      throw new UnauthenticatedError('The bearer token is not valid (unknown or revoked)');
    }
    try {
      await this.rateLimiter.take(match[1]);
    } catch (err) {
      if (err instanceof RateLimitedError && res && !res.headersSent) res.setHeader('Retry-After', String(err.retryAfterSeconds));
      throw err;
    }
    return viewer;
  }
}
