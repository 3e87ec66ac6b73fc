import type { LoggerService } from '@nestjs/common';
import { randomUUID } from 'node:crypto';

/** Name and message only: a driver error also carries its SQL and parameters, which stay out of logs. */
export function describeError(err: unknown): { name: string; message: string } {
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: typeof err, message: String(err) };
}

/**
 * An error nothing classified (a bug, an SDK's surprise): logged with a new id, which is what the
 * caller shows instead of its text, so an operator can find it from what a client or a record says.
 */
export function logUnexpected(logger: Pick<LoggerService, 'error'>, what: string, err: unknown): string {
  const errorId = randomUUID();
  logger.error({ errorId, err: describeError(err) }, what);
  return errorId;
}
