import { QueryFailedError } from 'typeorm';

/**
 * The unique index a write broke (Postgres names the index as the constraint), or null for any
 * other error. Checks made before a write can race another request; the index cannot, so a
 * service maps its violation to the same clear error its check throws.
 */
export function violatedUniqueIndex(err: unknown): string | null {
  if (!(err instanceof QueryFailedError)) return null;
  const driverError = err.driverError as { code?: string; constraint?: string } | undefined;
  return driverError?.code === '23505' ? (driverError.constraint ?? null) : null;
}
