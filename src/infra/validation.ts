import { isEmail, registerDecorator, type ValidationOptions } from 'class-validator';
import { IANAZone } from 'luxon';

/** A valid IANA time-zone name such as "Asia/Kolkata" (offsets like "+05:30" are refused). */
export function IsIanaTimeZone(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isIanaTimeZone',
      target: target.constructor,
      propertyName: String(propertyName),
      options: { message: `${String(propertyName)} must be a valid IANA time zone such as "Europe/Berlin"`, ...options },
      validator: { validate: (value: unknown) => typeof value === 'string' && /^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/.test(value) && IANAZone.isValidZone(value) },
    });
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Ids from clients are checked before they reach a uuid column (PostgreSQL would answer a syntax error). */
export const isUuid = (value: string): boolean => UUID_RE.test(value);

/**
 * One bare address (no display name, no list), as addresses are stored: lower-cased by the caller.
 * The same rule as the inputs' @IsEmail, so routePreview, suppressions and test emails take
 * exactly the addresses sendEmail takes.
 */
export const isEmailAddress = (value: string): boolean => value.length <= 320 && isEmail(value);

/** A date PostgreSQL can store: valid, and a year in 1..9999 (it refuses year 0 and negative years). */
export const isStorableDate = (value: Date): boolean => {
  const year = value.getUTCFullYear();
  return !Number.isNaN(value.getTime()) && year >= 1 && year <= 9999;
};
