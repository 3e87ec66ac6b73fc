import type { MockContext } from './mock-auth';
import { badInput, forbidden } from './mock-errors';
import { hexFrom } from './mock-ids';
import type { AccountRecord, QuotaExhaustedAction, TokenRecord } from './mock-records';
import type { MockResolverMap } from './mock-resolver-map';
import type { MockState } from './mock-state';
import { InputChecks, name, timeZone } from './mock-validation';

interface CreateAccountInput {
  name: string;
  timezone: string;
  parentId?: string | null;
  onQuotaExhausted?: QuotaExhaustedAction | null;
}

interface UpdateAccountInput {
  name?: string | null;
  timezone?: string | null;
  onQuotaExhausted?: QuotaExhaustedAction | null;
}

/** A required setting in an update: left out means unchanged, an explicit null is refused. */
function setting<T>(field: string, value: T | null | undefined, check: (field: string, value: T) => T = (_f, v) => v): T | undefined {
  if (value === null) throw badInput(field, 'cannot be null (leave it out to keep it)');
  return value === undefined ? undefined : check(field, value);
}

/** Accounts, add-ons and API tokens. Input is checked first, as the API's validation pipe does, then permissions. */
export function accountMutations(state: MockState): MockResolverMap {
  const viewer = (ctx: MockContext) => state.viewerOf(ctx);
  return {
    Mutation: {
      createAccount: (_: unknown, { input }: { input: CreateAccountInput }, ctx: MockContext) => {
        const v = viewer(ctx);
        const checks = new InputChecks();
        const accountName = checks.run(() => name('name', input.name), '');
        const timezone = checks.run(() => timeZone('timezone', input.timezone), '');
        checks.done();
        let parent: AccountRecord | null = null;
        if (input.parentId) {
          parent = state.account(v, input.parentId);
          if (parent.parentId) throw badInput('parentId', 'is a sub-account, and a sub-account cannot have sub-accounts');
          if (v.role !== 'ADMIN' && parent.id !== v.accountId) throw forbidden('Only the agency itself or an ADMIN can add sub-accounts to it');
        } else {
          state.requireAdmin(v, 'Only an ADMIN can create an agency; give parentId to create a sub-account');
        }
        const account: AccountRecord = {
          id: state.id(),
          name: accountName,
          timezone,
          parentId: parent?.id ?? null,
          onQuotaExhausted: input.onQuotaExhausted ?? 'WAIT',
          addons: [],
          createdAt: state.nowIso(),
        };
        state.data.accounts.push(account);
        return account;
      },
      updateAccount: (_: unknown, { id, input }: { id: string; input: UpdateAccountInput }, ctx: MockContext) => {
        const checks = new InputChecks();
        const newName = checks.run(() => setting('name', input.name, name), undefined);
        const timezone = checks.run(() => setting('timezone', input.timezone, timeZone), undefined);
        const action = checks.run(() => setting('onQuotaExhausted', input.onQuotaExhausted), undefined);
        checks.done();
        const account = state.account(viewer(ctx), id);
        if (newName !== undefined) account.name = newName;
        if (timezone !== undefined) account.timezone = timezone;
        if (action !== undefined) account.onQuotaExhausted = action;
        return account;
      },
      setAccountAddons: (_: unknown, args: { accountId: string; addons: string[] }, ctx: MockContext) => {
        const v = viewer(ctx);
        state.requireAdmin(v, 'Only an ADMIN can change add-ons');
        const account = state.account(v, args.accountId);
        account.addons = [...new Set(args.addons)];
        return account;
      },
      createApiToken: (_: unknown, { input }: { input: { name: string; accountId?: string | null } }, ctx: MockContext) => {
        const v = viewer(ctx);
        const tokenName = name('name', input.name);
        const account = input.accountId ? state.account(v, input.accountId) : null;
        if (!account) state.requireAdmin(v, 'Only an ADMIN can create ADMIN tokens; give accountId for an account token');
        const id = state.id();
        // Shown once, as the real API does; it authenticates against this mock from now on.
        const secret = `mr_${Buffer.from(hexFrom(id, 64), 'hex').toString('base64url')}`;
        const token: TokenRecord = { id, name: tokenName, role: account ? 'ACCOUNT' : 'ADMIN', accountId: account?.id ?? null, createdAt: state.nowIso(), lastUsedAt: null, secret };
        state.data.tokens.push(token);
        return { token: secret, apiToken: token };
      },
      revokeApiToken: (_: unknown, { id }: { id: string }, ctx: MockContext) => {
        state.revoke(state.token(viewer(ctx), id));
        return true;
      },
    },
  };
}
