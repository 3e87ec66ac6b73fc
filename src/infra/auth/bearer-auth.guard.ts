import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { GqlExecutionContext } from '@nestjs/graphql';
import { UnauthenticatedError } from '../errors/domain-error';
import type { RequestWithViewer } from './current-viewer.decorator';

/**
 * No resolver runs without a viewer. RequestAdmission sets it for every GraphQL request (or
 * refuses the request) before anything is parsed; this guard only makes sure of it, so a
 * resolver can never be reached by a path that skipped the admission. REST routes (health,
 * webhooks) authenticate their own way and are not touched here.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.getType<string>() !== 'graphql') return true;
    const { req } = GqlExecutionContext.create(context).getContext<{ req: RequestWithViewer }>();
    if (!req.viewer) throw new UnauthenticatedError();
    return true;
  }
}
