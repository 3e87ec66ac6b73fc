import { HttpException, Logger } from '@nestjs/common';
import type { GraphQLFormattedError } from 'graphql';
import { GraphQLError } from 'graphql';
import { QueryFailedError } from 'typeorm';
import { DomainError, ErrorCode } from './domain-error';
import { logUnexpected } from './unexpected-error';

const logger = new Logger('GraphQLErrors');

/** Codes Apollo itself produces for malformed requests; their messages are safe to show. */
const APOLLO_CLIENT_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

const HTTP_STATUS_CODES: Record<number, ErrorCode> = {
  400: ErrorCode.BAD_USER_INPUT,
  401: ErrorCode.UNAUTHENTICATED,
  403: ErrorCode.FORBIDDEN,
  404: ErrorCode.NOT_FOUND,
  409: ErrorCode.CONFLICT,
};

/**
 * The one place that decides what a client sees of an error: DomainErrors by their code,
 * unique violations as CONFLICT, and everything else masked behind an id that is logged.
 */
export function formatGraphQLError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
  const base = { message: formatted.message, locations: formatted.locations, path: formatted.path };

  if (original instanceof DomainError) {
    return { ...base, message: original.message, extensions: { code: original.code, ...original.extensions } };
  }
  if (original instanceof HttpException) {
    const code = HTTP_STATUS_CODES[original.getStatus()];
    if (code) return { ...base, message: original.message, extensions: { code } };
  }
  if (original instanceof QueryFailedError && (original.driverError as { code?: string } | undefined)?.code === '23505') {
    return { ...base, message: 'This conflicts with an existing record', extensions: { code: ErrorCode.CONFLICT } };
  }
  const apolloCode = formatted.extensions?.code;
  // Apollo's own request errors (parse, validation, variable coercion) carry no originalError.
  if (typeof apolloCode === 'string' && APOLLO_CLIENT_CODES.has(apolloCode) && original instanceof GraphQLError) {
    const fields = apolloCode === 'BAD_USER_INPUT' ? variableFields(formatted.message) : undefined;
    return { ...base, extensions: fields ? { code: apolloCode, fields } : { code: apolloCode } };
  }
  const errorId = logUnexpected(logger, 'Unhandled error in a GraphQL operation', original);
  return { ...base, message: `Internal error (id ${errorId})`, extensions: { code: 'INTERNAL_SERVER_ERROR', errorId } };
}

/**
 * The input path of a variable coercion error, in the same form as validation errors name
 * fields: 'Variable "$input" got invalid value 1.5 at "input.quota.daily"; …' → ["quota.daily"]
 * ('input' is the argument, so it is dropped); a whole variable: 'Variable "$first" …' → ["first"].
 */
function variableFields(message: string): string[] | undefined {
  const at = /at "([^"]+)"/.exec(message);
  if (at) {
    const parts = at[1].split('.');
    return [parts.length > 1 ? parts.slice(1).join('.') : parts[0]];
  }
  const variable = /^Variable "\$([A-Za-z_][A-Za-z0-9_]*)"/.exec(message);
  return variable ? [variable[1]] : undefined;
}

