/** Shared pieces of the GraphQL input classes' class-transformer and class-validator rules. */

/** @Transform: surrounding spaces dropped. */
export const trim = ({ value }: { value: unknown }): unknown => (typeof value === 'string' ? value.trim() : value);

/** @Transform for addresses and domains: trimmed and lower-cased. */
export const lower = ({ value }: { value: unknown }): unknown => (typeof value === 'string' ? value.trim().toLowerCase() : value);

/** @ValidateIf for an optional field: its rules apply when a value is given, not to undefined or null. */
export const given = (_o: object, v: unknown): boolean => v !== undefined && v !== null;
