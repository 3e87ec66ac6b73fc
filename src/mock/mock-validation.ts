import { GraphQLError } from 'graphql';
import { badInput, badInputs } from './mock-errors';

/**
 * The input checks a frontend's forms must satisfy, close to the real API's (class-validator
 * and the services), so a form that passes the mock is not refused by the backend.
 */

const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isEmailAddress = (value: string): boolean => value.length <= 320 && EMAIL.test(value);
export const isUuid = (value: string): boolean => UUID.test(value);

/** An IANA zone such as "Asia/Kathmandu", as Intl knows them; offsets such as "+05:30" are refused as the API refuses them. */
export function isIanaTimeZone(value: string): boolean {
  if (!/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/.test(value)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

/** Trimmed and lower-cased, as addresses are stored; BAD_USER_INPUT naming `field` otherwise. */
export function email(field: string, value: string): string {
  const address = value.trim().toLowerCase();
  if (!isEmailAddress(address)) throw badInput(field, 'must be an email address such as "jane@example.com"');
  return address;
}

/** Trimmed, 1 to 200 characters (the API's limit on names). */
export function name(field: string, value: string): string {
  const trimmed = value.trim();
  if (trimmed.length < 1 || trimmed.length > 200) throw badInput(field, 'must be 1 to 200 characters');
  return trimmed;
}

export function timeZone(field: string, value: string): string {
  if (!isIanaTimeZone(value)) throw badInput(field, 'must be a valid IANA time zone such as "Europe/Berlin"');
  return value;
}

/** A non-negative integer setting such as pauseMs or a quota limit. */
export function nonNegative(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw badInput(field, 'must be 0 or more');
  return value;
}

/** A domain such as "mail.example.com", lower-cased. */
export function domain(field: string, value: string): string {
  const lower = value.trim().toLowerCase();
  if (!isEmailAddress(`x@${lower}`)) throw badInput(field, 'must be a domain such as "example.com"');
  return lower;
}

/** A list of recipients: trimmed, lower-cased, de-duplicated; any bad address refuses the whole list, naming it. */
export function recipients(field: string, values: string[]): string[] {
  const unique = new Set<string>();
  const invalid: string[] = [];
  for (const raw of values) {
    const address = raw.trim().toLowerCase();
    if (isEmailAddress(address)) unique.add(address);
    else invalid.push(JSON.stringify(raw));
  }
  if (invalid.length) throw badInput(field, `contains addresses that are not valid: ${invalid.slice(0, 10).join(', ')}; nothing was stored`);
  return [...unique];
}

/**
 * Runs several checks and reports every bad field at once, as the API's validation pipe does
 * (`extensions.fields: ["name", "timezone"]`), instead of one field per round trip.
 */
export class InputChecks {
  private readonly problems: { message: string; fields: string[] }[] = [];

  /** The checked value, or `fallback` when the check failed (the failure is reported by done()). */
  run<T>(check: () => T, fallback: T): T {
    try {
      return check();
    } catch (err) {
      if (!(err instanceof GraphQLError) || err.extensions.code !== 'BAD_USER_INPUT') throw err;
      this.problems.push({ message: err.message, fields: err.extensions.fields as string[] });
      return fallback;
    }
  }

  /** Reports a bad field without a check to run. */
  report(field: string, problem: string): void {
    this.run(() => {
      throw badInput(field, problem);
    }, undefined);
  }

  done(): void {
    if (this.problems.length)
      throw badInputs(
        this.problems.map((p) => p.message).join('; '),
        this.problems.flatMap((p) => p.fields),
      );
  }
}
