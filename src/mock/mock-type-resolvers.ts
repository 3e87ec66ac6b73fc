import type { MockContext } from './mock-auth';
import { campaignStats, effectiveAddons, quotaUsage, reputation } from './mock-derived';
import type { AccountRecord, CampaignRecord, EventRecord, MessageRecord, ServerRecord, TestRecord, TokenRecord } from './mock-records';
import type { MockResolverMap } from './mock-resolver-map';
import { visibleServer } from './mock-routing';
import { transportsOf } from './mock-server-defaults';
import type { MockState } from './mock-state';

export const newestFirst = <T extends { createdAt: string; id: string }>(rows: T[]): T[] =>
  [...rows].sort((a, b) => (a.createdAt === b.createdAt ? b.id.localeCompare(a.id) : b.createdAt.localeCompare(a.createdAt)));

/**
 * Relations and computed fields: the records hold ids, and these turn them into the one record
 * they name, hiding what the viewer does not reach as the real API does (a sub-account's token
 * sees no parent, an agency server's settings are not shown to the sub-account routing through it).
 */
export function typeResolvers(state: MockState): MockResolverMap {
  const viewer = (ctx: MockContext) => state.viewerOf(ctx);
  const serverAsSeen = (id: string | null, ctx: MockContext): ServerRecord | null => {
    const server = state.serverById(id);
    return server && visibleServer(state, viewer(ctx), server);
  };
  return {
    Account: {
      kind: (a: AccountRecord) => (a.parentId ? 'SUB_ACCOUNT' : 'AGENCY'),
      parent: (a: AccountRecord, _: unknown, ctx: MockContext) => {
        const parent = state.accountById(a.parentId);
        return parent && state.canReach(viewer(ctx), parent) ? parent : null;
      },
      subAccounts: (a: AccountRecord, _: unknown, ctx: MockContext) => (a.parentId ? [] : newestFirst(state.data.accounts.filter((s) => s.parentId === a.id && state.canReach(viewer(ctx), s)))),
      effectiveAddons: (a: AccountRecord) => effectiveAddons(state, a),
      deliveryServers: (a: AccountRecord) => newestFirst(state.data.servers.filter((s) => s.accountId === a.id)),
    },
    DeliveryServer: {
      account: (s: ServerRecord, _: unknown, ctx: MockContext) => {
        const owner = state.accountById(s.accountId);
        return owner && state.canReach(viewer(ctx), owner) ? owner : null;
      },
      assignedAccounts: (s: ServerRecord, _: unknown, ctx: MockContext) =>
        s.assignedAccountIds.map((id) => state.accountById(id)).filter((a): a is AccountRecord => a !== null && state.canReach(viewer(ctx), a)),
      transports: (s: ServerRecord) => transportsOf(s),
      usage: (s: ServerRecord) => quotaUsage(state, s),
      reputation: (s: ServerRecord, _: unknown, ctx: MockContext) => (state.manages(viewer(ctx), s) ? reputation(state, s) : null),
    },
    ServerTestResult: {
      server: (t: TestRecord, _: unknown, ctx: MockContext) => serverAsSeen(t.serverId, ctx),
    },
    Message: {
      account: (m: MessageRecord) => state.accountById(m.accountId),
      campaign: (m: MessageRecord) => state.data.campaigns.find((c) => c.id === m.campaignId) ?? null,
      server: (m: MessageRecord, _: unknown, ctx: MockContext) => serverAsSeen(m.serverId, ctx),
    },
    MessageEvent: {
      server: (e: EventRecord, _: unknown, ctx: MockContext) => serverAsSeen(e.serverId, ctx),
    },
    Campaign: {
      account: (c: CampaignRecord) => state.accountById(c.accountId),
      stats: (c: CampaignRecord) => campaignStats(state, c),
    },
    ApiToken: {
      account: (t: TokenRecord) => state.accountById(t.accountId),
    },
  };
}
