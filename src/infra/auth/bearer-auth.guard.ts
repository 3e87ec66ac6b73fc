import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { GqlExecutionContext } from '@nestjs/graphql';
import { UnauthenticatedError } from '../errors/domain-error';
import type { RequestWithViewer } from './current-viewer.decorator';
import { TOKEN_AUTHENTICATOR, TokenAuthenticator } from './viewer';

/**
 * Every GraphQL operation needs `Authorization: Bearer <token>`. REST routes (health, webhooks)
 * authenticate their own way and are not touched here.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(@Inject(TOKEN_AUTHENTICATOR) private readonly authenticator: TokenAuthenticator) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType<string>() !== 'graphql') return true;
    const req = GqlExecutionContext.create(context).getContext<{ req: RequestWithViewer }>().req;
    if (req.viewer) return true; // several root fields in one request: resolve the token once
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new UnauthenticatedError('Send Authorization: Bearer <token>');
    const viewer = await this.authenticator.authenticate(match[1]);
    if (!viewer) throw new UnauthenticatedError('The bearer token is not valid (unknown or revoked)');
    req.viewer = viewer;
    return true;
  }
}
