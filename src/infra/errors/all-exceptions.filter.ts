import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { logUnexpected } from './unexpected-error';

/**
 * Replaces Nest's default handler, which logs every non-HTTP error with its stack trace.
 * GraphQL errors pass through untouched to the one formatter (formatGraphQLError); REST errors
 * answer with their HTTP status, and anything unexpected is a masked 500 whose id is logged.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpErrors');

  catch(exception: unknown, host: ArgumentsHost): unknown {
    if (host.getType<string>() === 'graphql') return exception;
    const res = host.switchToHttp().getResponse<Response>();
    if (exception instanceof HttpException) {
      const body = exception.getResponse();
      res.status(exception.getStatus()).json(typeof body === 'string' ? { statusCode: exception.getStatus(), message: body } : body);
      return;
    }
    // Errors of the HTTP layer itself (body-parser: 413 too large, 400 malformed JSON) say what is safe to show.
    const status = (exception as { status?: unknown; expose?: unknown } | null)?.status;
    if (typeof status === 'number' && status >= 400 && status < 500 && (exception as { expose?: unknown }).expose === true) {
      res.status(status).json({ statusCode: status, message: status === 413 ? 'Request body too large (limit 4 MB)' : (exception as Error).message });
      return;
    }
    const errorId = logUnexpected(this.logger, 'Unhandled error in an HTTP request', exception);
    res.status(500).json({ statusCode: 500, message: `Internal error (id ${errorId})` });
    return;
  }
}
