import { GraphQLError } from 'graphql';

/**
 * Errors shaped as the real API sends them (CONTRACT.md section 6): `extensions.code`, and for
 * BAD_USER_INPUT `extensions.fields` naming the offending input paths, so a frontend's error
 * handling can be written and tested against the mock.
 */
const coded = (code: string, message: string, extensions: Record<string, unknown> = {}): GraphQLError => new GraphQLError(message, { extensions: { code, ...extensions } });

export const badInput = (field: string, problem: string): GraphQLError => coded('BAD_USER_INPUT', `${field} ${problem}`, { fields: [field] });
export const badInputs = (message: string, fields: string[]): GraphQLError => coded('BAD_USER_INPUT', message, { fields });
export const notFound = (what: string, id: string): GraphQLError => coded('NOT_FOUND', `${what} ${id} was not found`);
export const forbidden = (message: string): GraphQLError => coded('FORBIDDEN', message);
export const conflict = (message: string): GraphQLError => coded('CONFLICT', message);
export const domainError = (code: 'SERVER_NOT_VERIFIED' | 'SENDER_NOT_VERIFIED' | 'NO_ROUTE', message: string): GraphQLError => coded(code, message);

export const unauthenticated = (message: string): GraphQLError => coded('UNAUTHENTICATED', message);

/** Refuses the whole HTTP request with 401, before any resolver, as the real API's admission does. */
export const unauthenticatedRequest = (message: string): GraphQLError => coded('UNAUTHENTICATED', message, { http: { status: 401, headers: new Map([['www-authenticate', 'Bearer']]) } });
