import { Args, Context, ID, Info, Mutation, Query, ResolveField, Resolver } from '@nestjs/graphql';
import type { GraphQLResolveInfo } from 'graphql';
import { selectsField } from '../../infra/graphql/selection';
import { MemoizedResponse, type MemoRequest, memoRequestOf } from '../../infra/graphql/response-memo';
import type { AccountEntity } from '../accounts/account.entity';
import { CurrentViewer, type RequestWithViewer, viewerOf } from '../../infra/auth/current-viewer.decorator';
import type { Viewer } from '../../infra/auth/viewer';
import { TransportKind } from '../../providers/provider.enums';
import { AccountModel } from '../accounts/account.model';
import { toAccountModel } from '../accounts/accounts.mapper';
import { AccountsService } from '../accounts/accounts.service';
import { TenantScope } from '../accounts/tenant-scope.service';
import { requestLoader } from '../../infra/graphql/request-loaders';
import { QuotaUsageModel } from '../quota/quota.model';
import { QuotaService, type UsageReading, usageFingerprint, usageOf } from '../quota/quota.service';
import type { QuotaSubject, QuotaUsage } from '../quota/quota.types';
import { ServerOrigin } from './delivery-server.entity';
import { DefaultScope, DeliveryServerModel, ServerTestResultModel, WebhookRegistrationModel } from './delivery-server.model';
import { needsWebhookSecret, toDeliveryServerModel, toTestResultModel, withWebhookSecret } from './delivery-servers.mapper';
import { DeliveryServersService } from './delivery-servers.service';
import { CreateDeliveryServerInput, UpdateDeliveryServerInput } from './dto/delivery-server.inputs';
import { ServerDefaultsService } from './server-defaults.service';
import { ServerTestsService } from './server-tests.service';

/** A server's quota counted on its owner's clock (platform servers: UTC). */
const quotaSubjectOf = (server: DeliveryServerModel, owner: { timezone: string } | null): QuotaSubject => ({
  serverId: server.id,
  timezone: owner?.timezone ?? 'UTC',
  limits: server.quota,
});

/** The GraphQL context: field resolvers take it directly (see the note above `account`). */
type RequestContext = { req: RequestWithViewer };

/**
 * What a memoized `deliveryServers` answer keeps besides its validity: the rows' versions, then
 * (when it shows `usage`) its servers' ids, whose counters the next request reads to check it.
 * Their limits need not be kept: they are in the rows, and the counters' fingerprint leaves them out.
 */
const keptList = (rows: string, serverIds: readonly string[]): string => `${rows}\n${serverIds.join(',')}`;
const keptServerIds = (kept: string): string[] => {
  const ids = kept.slice(kept.indexOf('\n') + 1);
  return ids ? ids.split(',') : [];
};
const ANY_LIMITS = { hourly: null, daily: null, monthly: null };

/** A memoized list's validity: its rows' fingerprint and, when it shows `usage`, the counters, zones and windows it showed. */
const listValidity = (rows: string, usage: UsageReading | null): string => (usage ? `${rows}|${usageFingerprint(usage)}` : rows);

/** Per request: the `usage` of servers a list already read (preloadUsage). */
const preloadedUsage = new WeakMap<object, Map<string, QuotaUsage>>();

@Resolver(() => DeliveryServerModel)
export class DeliveryServersResolver {
  constructor(
    private readonly servers: DeliveryServersService,
    private readonly defaults: ServerDefaultsService,
    private readonly tests: ServerTestsService,
    private readonly accounts: AccountsService,
    private readonly quota: QuotaService,
    private readonly scope: TenantScope,
  ) {}

  @Query(() => DeliveryServerModel, { nullable: true })
  async deliveryServer(@CurrentViewer() viewer: Viewer, @Args('id', { type: () => ID }) id: string): Promise<DeliveryServerModel> {
    return toDeliveryServerModel(await this.servers.getManageable(viewer, id));
  }

  @Query(() => [DeliveryServerModel])
  // `usage` is read for the whole list here and checked by answeredFromMemo; `webhook` reads the
  // same rows the fingerprint covers.
  @MemoizedResponse({ itemFields: ['usage'], fields: ['DeliveryServer.webhook'] })
  async deliveryServers(
    @CurrentViewer() viewer: Viewer,
    @Context() ctx: object,
    @Info() info: GraphQLResolveInfo,
    @Args('accountId', { type: () => ID, nullable: true }) accountId?: string,
    @Args('origin', { type: () => ServerOrigin, nullable: true }) origin?: ServerOrigin,
  ): Promise<DeliveryServerModel[]> {
    const withUsage = selectsField(info, 'usage');
    // One account's list may be answered as before while its rows and counters are unchanged.
    const memo = accountId ? memoRequestOf(ctx) : null;
    let reached: AccountEntity | undefined;
    if (memo && accountId) {
      reached = await this.scope.account(viewer, accountId);
      if (memo.hasKept() && (await this.answeredFromMemo(memo, reached, origin ?? null, withUsage))) return [];
    }
    const { servers, account, versions } = await this.servers.list(viewer, { accountId, origin }, reached);
    // Their owner, already read to check access: `usage` and `account` need no query for it.
    if (account) this.accounts.prime(ctx, account);
    const models = servers.map(toDeliveryServerModel);
    const usage = withUsage ? await this.preloadUsage(ctx, models) : null;
    // Valid for the row versions this answer was made from, read with the rows.
    memo?.record(listValidity(versions, usage), keptList(versions, usage ? models.map((s) => s.id) : []));
    return models;
  }

  /**
   * Serves the answer kept for this same request (document, variables, viewer) when the account's
   * server rows (their versions) and the counters it shows are what they were.
   */
  private async answeredFromMemo(memo: MemoRequest, account: AccountEntity, origin: ServerOrigin | null, withUsage: boolean): Promise<boolean> {
    const rows = await this.servers.listFingerprint(account.id, origin);
    const state = memo.previousState();
    if (!state?.startsWith(`${rows}\n`)) return false;
    const usage = withUsage ? await this.quota.readUsage(keptServerIds(state).map((serverId) => ({ serverId, timezone: account.timezone, limits: ANY_LIMITS }))) : null;
    return memo.answerIfValid(listValidity(rows, usage));
  }

  @Mutation(() => DeliveryServerModel)
  async createDeliveryServer(@CurrentViewer() viewer: Viewer, @Args('input') input: CreateDeliveryServerInput): Promise<DeliveryServerModel> {
    return toDeliveryServerModel(await this.servers.create(viewer, input));
  }

  @Mutation(() => DeliveryServerModel)
  async updateDeliveryServer(
    @CurrentViewer() viewer: Viewer,
    @Args('id', { type: () => ID }) id: string,
    @Args('input') input: UpdateDeliveryServerInput,
  ): Promise<DeliveryServerModel> {
    return toDeliveryServerModel(await this.servers.update(viewer, id, input));
  }

  @Mutation(() => DeliveryServerModel)
  async activateDeliveryServer(@CurrentViewer() viewer: Viewer, @Args('id', { type: () => ID }) id: string): Promise<DeliveryServerModel> {
    return toDeliveryServerModel(await this.servers.activate(viewer, id));
  }

  @Mutation(() => DeliveryServerModel)
  async pauseDeliveryServer(@CurrentViewer() viewer: Viewer, @Args('id', { type: () => ID }) id: string): Promise<DeliveryServerModel> {
    return toDeliveryServerModel(await this.servers.pause(viewer, id));
  }

  @Mutation(() => Boolean)
  deleteDeliveryServer(@CurrentViewer() viewer: Viewer, @Args('id', { type: () => ID }) id: string): Promise<boolean> {
    return this.servers.delete(viewer, id);
  }

  @Mutation(() => ServerTestResultModel, { description: 'Sends a real, labelled test email (API, then SMTP); a provider failure is the result (ok: false), not an error.' })
  async testSmtpServer(
    @CurrentViewer() viewer: Viewer,
    @Args('id', { type: () => ID }) id: string,
    @Args('to', { nullable: true }) to?: string,
    @Args('transport', { type: () => TransportKind, nullable: true, description: 'Test only this path (no fallback); default: API then SMTP.' })
    transport?: TransportKind,
  ): Promise<ServerTestResultModel> {
    const { server, result } = await this.tests.test(viewer, id, to, transport);
    return toTestResultModel(result, toDeliveryServerModel(server));
  }

  @Mutation(() => DeliveryServerModel)
  async registerWebhooks(@CurrentViewer() viewer: Viewer, @Args('id', { type: () => ID }) id: string): Promise<DeliveryServerModel> {
    return toDeliveryServerModel(await this.servers.registerWebhooks(viewer, id));
  }

  @Mutation(() => DeliveryServerModel, { description: 'The previous default for that owner, scope and sending domain loses its flag.' })
  async setDefaultSmtp(
    @CurrentViewer() viewer: Viewer,
    @Args('id', { type: () => ID }) id: string,
    @Args('scope', { type: () => DefaultScope }) scope: DefaultScope,
  ): Promise<DeliveryServerModel> {
    return toDeliveryServerModel(await this.defaults.setDefault(viewer, id, scope));
  }

  @Mutation(() => DeliveryServerModel)
  async unsetDefaultSmtp(
    @CurrentViewer() viewer: Viewer,
    @Args('id', { type: () => ID }) id: string,
    @Args('scope', { type: () => DefaultScope }) scope: DefaultScope,
  ): Promise<DeliveryServerModel> {
    return toDeliveryServerModel(await this.defaults.unsetDefault(viewer, id, scope));
  }

  @Mutation(() => DeliveryServerModel)
  async assignSmtpAccounts(
    @CurrentViewer() viewer: Viewer,
    @Args('id', { type: () => ID }) id: string,
    @Args('accountIds', { type: () => [ID] }) accountIds: string[],
  ): Promise<DeliveryServerModel> {
    return toDeliveryServerModel(await this.defaults.assign(viewer, id, accountIds));
  }

  // The field resolvers below take graphql-js's own (parent, args, context) instead of @Parent and
  // @Context: without parameter decorators Nest calls them directly, skipping its per-call
  // wrapper (pipes and several promises), which for `usage` on a list of 100 servers cost more
  // than the field itself (docs/performance.md, graphql).
  @ResolveField(() => AccountModel, { nullable: true, description: 'Owner; null for a platform server (ADMIN only), the last resort of routing.' })
  async account(server: DeliveryServerModel, _args: unknown, ctx: RequestContext): Promise<AccountModel | null> {
    const account = server.accountId ? await this.accounts.byId(ctx, server.accountId) : null;
    // A server reached through routing (an agency's, seen by its sub-account) does not lead to its owner.
    return account && this.scope.canReach(viewerOf(ctx.req), account) ? toAccountModel(account) : null;
  }

  /** Current quota windows on the owner's clock (platform servers: UTC); one Redis round trip per request. */
  @ResolveField(() => QuotaUsageModel)
  usage(server: DeliveryServerModel, _args: unknown, ctx: object): QuotaUsage | Promise<QuotaUsage> {
    return preloadedUsage.get(ctx)?.get(server.id) ?? this.loadUsage(server, ctx);
  }

  private async loadUsage(server: DeliveryServerModel, ctx: object): Promise<QuotaUsage> {
    const subject = quotaSubjectOf(server, server.accountId ? await this.accounts.byId(ctx, server.accountId) : null);
    return requestLoader<QuotaSubject, QuotaUsage>(ctx, 'server.usage', (subjects) => this.quota.usage(subjects), {
      cacheKeyFn: (s) => s.serverId,
    }).load(subject);
  }

  /**
   * A list that asks for `usage` gets it for every server in one call, answered to each server's
   * `usage` without a promise: for 100 servers that is a tenth of the request's time
   * (docs/performance.md, graphql).
   */
  private async preloadUsage(ctx: object, servers: DeliveryServerModel[]): Promise<UsageReading> {
    const owners = await Promise.all(servers.map((s) => (s.accountId ? this.accounts.byId(ctx, s.accountId) : null)));
    const reading = await this.quota.readUsage(servers.map((s, i) => quotaSubjectOf(s, owners[i])));
    const usages = usageOf(reading);
    let preloaded = preloadedUsage.get(ctx);
    if (!preloaded) preloadedUsage.set(ctx, (preloaded = new Map()));
    for (const [i, s] of servers.entries()) preloaded.set(s.id, usages[i]);
    return reading;
  }

  /**
   * As mapped, but for a webhook its owner must paste by hand (Elastic Email, NOT_SUPPORTED): the
   * URL with its secret, which `webhook` stores masked. Servers a viewer reaches without managing
   * them (toSharedServerModel) show no URL, so there is nothing to put back.
   */
  @ResolveField(() => WebhookRegistrationModel)
  webhook(server: DeliveryServerModel, _args: unknown, ctx: object): WebhookRegistrationModel | Promise<WebhookRegistrationModel> {
    if (!needsWebhookSecret(server.webhook)) return server.webhook;
    return this.servers.webhookSecret(ctx, server.id).then((secret) => withWebhookSecret(server.webhook, secret));
  }

  @ResolveField(() => [AccountModel])
  async assignedAccounts(server: DeliveryServerModel, _args: unknown, ctx: RequestContext): Promise<AccountModel[]> {
    // A sub-account seeing its agency's server sees at most itself among the assignments.
    const viewer = viewerOf(ctx.req);
    return (await this.defaults.assignedAccounts(ctx, server.id)).filter((a) => this.scope.canReach(viewer, a)).map(toAccountModel);
  }
}
