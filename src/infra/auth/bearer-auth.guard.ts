import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { GqlExecutionContext } from '@nestjs/graphql';
import type { Response } from 'express';
import type Redis from 'ioredis';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import { UnauthenticatedError } from '../errors/domain-error';
import { REDIS } from '../redis/redis.module';
import type { RequestWithViewer } from './current-viewer.decorator';
import { RateLimitedError, TokenRateLimiter } from './token-rate-limiter';
import { TOKEN_AUTHENTICATOR, TokenAuthenticator, type Viewer } from './viewer';

/**
 * Every GraphQL operation needs `Authorization: Bearer <token>`, and a token may make at most
 * GRAPHQL_RATE_LIMIT requests a minute. REST routes (health, webhooks) authenticate their own
 * way and are not touched here.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  private readonly rateLimiter: TokenRateLimiter;
  /** One admission per request, shared by its root fields (which resolve concurrently). */
  private readonly admissions = new WeakMap<RequestWithViewer, Promise<Viewer>>();

  constructor(
    @Inject(TOKEN_AUTHENTICATOR) private readonly authenticator: TokenAuthenticator,
    @Inject(REDIS) redis: Redis,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.rateLimiter = new TokenRateLimiter(redis, config.redis.prefix, config.graphql.rateLimitPerMinute);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType<string>() !== 'graphql') return true;
    const { req, res } = GqlExecutionContext.create(context).getContext<{ req: RequestWithViewer; res?: Response }>();
    if (req.viewer) return true;
    let admission = this.admissions.get(req);
    if (!admission) {
      admission = this.admit(req, res);
      this.admissions.set(req, admission);
    }
    req.viewer = await admission;
    return true;
  }

  /** Authenticates the token, then counts the request against its rate limit (unknown tokens are not counted). */
  private async admit(req: RequestWithViewer, res: Response | undefined): Promise<Viewer> {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new UnauthenticatedError('Send Authorization: Bearer <token>');
    const viewer = await this.authenticator.authenticate(match[1]);
    if (!viewer) throw new UnauthenticatedError('The bearer token is not valid (unknown or revoked)');
    try {
      await this.rateLimiter.take(match[1]);
    } catch (err) {
      if (err instanceof RateLimitedError && res && !res.headersSent) res.setHeader('Retry-After', String(err.retryAfterSeconds));
      throw err;
    }
    return viewer;
  }
}
