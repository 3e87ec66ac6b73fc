import { unauthenticatedRequest } from './mock-errors';

/**
 * How the mock tells callers apart. Any non-empty bearer token is accepted, so a frontend
 * needs no setup; its prefix picks the viewer (mock-state.ts `viewerOf`):
 *   admin…          ADMIN
 *   sub…            ACCOUNT token of the agency's first sub-account (Bluebird CRM)
 *   anything else   ACCOUNT token of the agency (Acme Growth Agency)
 * Tokens issued by createApiToken act as their account, and stop working once revoked.
 */
export const MOCK_TOKENS = { admin: 'admin-token', agency: 'agency-token', subAccount: 'sub-account-token' } as const;

export type MockViewer = { role: 'ADMIN' } | { role: 'ACCOUNT'; accountId: string; isAgency: boolean };

/** The GraphQL context the mocked schema expects: the caller's bearer token, or null for none. */
export interface MockContext {
  token: string | null;
}

/**
 * For running the mocked schema in memory (jest, Storybook…):
 * `graphql({ schema, source, contextValue: createMockContext(MOCK_TOKENS.admin) })`.
 * Without a token (null) every field answers UNAUTHENTICATED, as the real API does.
 */
export function createMockContext(token: string | null = MOCK_TOKENS.agency): MockContext {
  return { token: token?.trim() || null };
}

/** The HTTP server's admission: `Authorization: Bearer <token>` or a 401 UNAUTHENTICATED for the whole request. */
export function contextFromAuthorization(header: string | undefined): MockContext {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match) throw unauthenticatedRequest('Send Authorization: Bearer <token> (in the mock any token works; one starting with "admin" acts as ADMIN)');
  return { token: match[1] };
}
