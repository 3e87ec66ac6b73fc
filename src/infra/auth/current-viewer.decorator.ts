import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { GqlExecutionContext } from '@nestjs/graphql';
import type { Request } from 'express';
import { UnauthenticatedError } from '../errors/domain-error';
import type { Viewer } from './viewer';

export type RequestWithViewer = Request & { viewer?: Viewer };

export function viewerOf(req: RequestWithViewer): Viewer {
  if (!req.viewer) throw new UnauthenticatedError();
  return req.viewer;
}

/** The authenticated caller of a GraphQL operation (set by RequestAdmission). */
export const CurrentViewer = createParamDecorator((_data: unknown, ctx: ExecutionContext): Viewer => {
  const req = GqlExecutionContext.create(ctx).getContext<{ req: RequestWithViewer }>().req;
  return viewerOf(req);
});
