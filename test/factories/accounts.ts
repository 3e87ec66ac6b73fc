import type { TestApp } from '../utils/create-test-app';

export interface AccountRef {
  id: string;
  name: string;
  timezone: string;
}

const ACCOUNT_FIELDS = 'id name timezone';
let counter = 0;

/** An agency created through the real GraphQL API by ADMIN. */
export async function newAgency(t: TestApp, overrides: { name?: string; timezone?: string; onQuotaExhausted?: string } = {}): Promise<AccountRef> {
  const input = { name: overrides.name ?? `Agency ${++counter}`, timezone: overrides.timezone ?? 'UTC', ...overrides };
  const data = await t.gqlOk<{ createAccount: AccountRef }>(`mutation($input: CreateAccountInput!) { createAccount(input: $input) { ${ACCOUNT_FIELDS} } }`, { input });
  return data.createAccount;
}

export async function newSubAccount(t: TestApp, parentId: string, overrides: { name?: string; timezone?: string } = {}): Promise<AccountRef> {
  const input = { name: overrides.name ?? `Sub-account ${++counter}`, timezone: overrides.timezone ?? 'UTC', parentId, ...overrides };
  const data = await t.gqlOk<{ createAccount: AccountRef }>(`mutation($input: CreateAccountInput!) { createAccount(input: $input) { ${ACCOUNT_FIELDS} } }`, { input });
  return data.createAccount;
}

/** A bearer token for an account (or an ADMIN token with no accountId). */
export async function newToken(t: TestApp, accountId: string | null, name = 'test token'): Promise<{ id: string; token: string }> {
  const data = await t.gqlOk<{ createApiToken: { token: string; apiToken: { id: string } } }>(
    `mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) { token apiToken { id } } }`,
    { input: { name, accountId } },
  );
  return { id: data.createApiToken.apiToken.id, token: data.createApiToken.token };
}
