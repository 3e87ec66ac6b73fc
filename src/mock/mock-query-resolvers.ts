import type { MockContext } from './mock-auth';
import { paginate, type PageArgs } from './mock-connection';
import { badInput } from './mock-errors';
import type { MessageRecord } from './mock-records';
import type { MockResolverMap } from './mock-resolver-map';
import { routeDecision } from './mock-routing';
import type { MockState } from './mock-state';
import { newestFirst } from './mock-type-resolvers';
import { email } from './mock-validation';

type Id = { id: string };

/** A DateTime filter argument: refused by name when it is not a date-time. */
function instant(field: string, value: string | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw badInput(field, 'must be an ISO 8601 date-time with a zone, such as 2026-12-02T09:54:33Z');
  return ms;
}

/** Every Query field of schema.gql, each scoped to what the viewer reaches. */
export function queryResolvers(state: MockState): MockResolverMap {
  const viewer = (ctx: MockContext) => state.viewerOf(ctx);
  return {
    Query: {
      viewer: (_: unknown, __: unknown, ctx: MockContext) => {
        const v = viewer(ctx);
        return { role: v.role, account: v.role === 'ACCOUNT' ? state.accountById(v.accountId) : null };
      },
      account: (_: unknown, { id }: Id, ctx: MockContext) => state.account(viewer(ctx), id),
      accounts: (_: unknown, args: PageArgs & { search?: string | null }, ctx: MockContext) => {
        const v = viewer(ctx);
        const search = args.search?.trim().toLowerCase();
        if (search && search.length > 200) throw badInput('search', 'must be at most 200 characters');
        const rows = state.data.accounts.filter((a) => state.canReach(v, a) && (!search || a.name.toLowerCase().includes(search) || a.id === search));
        return paginate(rows, args);
      },
      deliveryServer: (_: unknown, { id }: Id, ctx: MockContext) => state.server(viewer(ctx), id),
      deliveryServers: (_: unknown, args: { accountId?: string | null; origin?: string | null }, ctx: MockContext) => {
        const v = viewer(ctx);
        const owner = args.accountId ? state.account(v, args.accountId) : null;
        const rows = state.data.servers.filter((s) => (owner ? s.accountId === owner.id : state.manages(v, s)) && (!args.origin || s.origin === args.origin));
        return newestFirst(rows);
      },
      routePreview: (_: unknown, args: { accountId: string; from: string }, ctx: MockContext) => {
        const v = viewer(ctx);
        return routeDecision(state, v, state.account(v, args.accountId), email('from', args.from));
      },
      message: (_: unknown, { id }: Id, ctx: MockContext) => state.message(viewer(ctx), id),
      messages: (
        _: unknown,
        args: PageArgs & { accountId: string; status?: string | null; campaignId?: string | null; to?: string | null; since?: string | null; until?: string | null },
        ctx: MockContext,
      ) => {
        const account = state.account(viewer(ctx), args.accountId);
        const since = instant('since', args.since);
        const until = instant('until', args.until);
        const to = args.to?.trim().toLowerCase();
        const matches = (m: MessageRecord): boolean =>
          m.accountId === account.id &&
          (!args.status || m.status === args.status) &&
          (!args.campaignId || m.campaignId === args.campaignId) &&
          (!to || m.to === to) &&
          (since === null || Date.parse(m.createdAt) >= since) &&
          (until === null || Date.parse(m.createdAt) < until);
        return paginate(state.data.messages.filter(matches), args);
      },
      campaign: (_: unknown, { id }: Id, ctx: MockContext) => state.campaign(viewer(ctx), id),
      campaigns: (_: unknown, args: PageArgs & { accountId: string; status?: string | null }, ctx: MockContext) => {
        const account = state.account(viewer(ctx), args.accountId);
        return paginate(
          state.data.campaigns.filter((c) => c.accountId === account.id && (!args.status || c.status === args.status)),
          args,
        );
      },
      suppressions: (_: unknown, args: PageArgs & { accountId: string; search?: string | null }, ctx: MockContext) => {
        const account = state.account(viewer(ctx), args.accountId);
        const search = args.search?.trim().toLowerCase();
        const rows = state.data.suppressions.filter((s) => s.accountId === account.id && (!search || s.email.includes(search)));
        // A suppression is one per account and address: the address breaks ties, as it has no id.
        return paginate(rows, args, (s) => s.email);
      },
      apiTokens: (_: unknown, args: { accountId?: string | null }, ctx: MockContext) => {
        const v = viewer(ctx);
        const accountId = args.accountId ? state.account(v, args.accountId).id : v.role === 'ACCOUNT' ? v.accountId : null;
        return newestFirst(state.data.tokens.filter((t) => accountId === null || t.accountId === accountId));
      },
    },
  };
}
