import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { isStorableDate } from '../validation';

/** RFC 3339 date-time (what the API answers with): a date, a time and a zone (Z or ±hh:mm). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
const EXPECTED = 'must be an ISO 8601 date-time with a zone, such as 2026-12-02T09:54:33Z';

function parse(value: unknown): Date {
  if (typeof value !== 'string' || !RFC3339.test(value)) throw new GraphQLError(`DateTime ${EXPECTED}`);
  const date = new Date(value);
  // Shape-valid but impossible (JavaScript rolls 2026-02-30 over to March 2), or outside what
  // PostgreSQL's timestamptz stores.
  const [year, month, day] = value.slice(0, 10).split('-').map(Number);
  const calendar = new Date(Date.UTC(year, month - 1, day));
  const real = calendar.getUTCFullYear() === year && calendar.getUTCMonth() === month - 1 && calendar.getUTCDate() === day;
  if (!real || !isStorableDate(date)) throw new GraphQLError(`DateTime ${EXPECTED} (got an impossible date)`);
  return date;
}

/**
 * The `DateTime` scalar, strict on input: Nest's default turns anything into a Date (numbers,
 * "Jan 1 2026") and a non-string literal into null. Same name and description, so the schema
 * does not change; answers are ISO strings in UTC as before.
 */
export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description: 'A date-time string at UTC, such as 2019-12-03T09:54:33Z, compliant with the date-time format.',
  parseValue: parse,
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw new GraphQLError(`DateTime ${EXPECTED}`);
    return parse(ast.value);
  },
  serialize(value) {
    if (value instanceof Date) return value.toISOString();
    if (typeof value === 'string') return parse(value).toISOString();
    throw new GraphQLError('DateTime cannot represent a value that is not a date');
  },
});
