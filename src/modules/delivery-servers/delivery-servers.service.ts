import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { In, IsNull, Not, Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { isAdmin, type Viewer } from '../../infra/auth/viewer';
import { requestLoader } from '../../infra/graphql/request-loaders';
import { BadUserInputError, ConflictError, DomainError, ErrorCode, ForbiddenError, NotFoundError } from '../../infra/errors/domain-error';
import type { SealedSecret } from '../../infra/crypto/credentials-cipher';
import { DeliveryProvider, WebhookStatus } from '../../providers/provider.enums';
import type { ServerCredentials } from '../../providers/provider.types';
import type { AccountEntity } from '../accounts/account.entity';
import { TenantScope } from '../accounts/tenant-scope.service';
import { DeliveryServerEntity, DeliveryServerStatus, type DeliveryServerView, ServerOrigin, type StoredTestResult, type StoredWebhook } from './delivery-server.entity';
import { DefaultScope } from './delivery-server.model';
import { violatedUniqueIndex } from '../../infra/database/unique-violation';
import type { CreateDeliveryServerInput, UpdateDeliveryServerInput } from './dto/delivery-server.inputs';
import { API_BLOCK_OF, apiCredentialsChanged, assertCredentialsFit, credentialsChanged, credentialsFromInput, mergeCredentials, summarize } from './server-credentials';
import { MessageStore } from '../messages/message-store';
import { PacingService } from '../quota/pacing.service';
import { ServerVault } from './server-vault';
import { WebhookRegistrar } from './webhook-registrar';
import { isUuid } from '../../infra/validation';
import { rowVersions, rowVersionsFrom, rowVersionsSql } from '../../infra/database/row-versions';

/** The columns of a DeliveryServerView, by their entity names (TypeScript checks the list is complete). */
const VIEW_COLUMNS = Object.keys({
  id: true, accountId: true, name: true, provider: true, origin: true, status: true, sendingDomain: true, senderAddress: true, testEmail: true,
  credentialSummary: true, ipPool: true, quotaHourly: true, quotaDaily: true, quotaMonthly: true, pauseMs: true, isDefaultForAccount: true,
  isDefaultForSubAccounts: true, lastTest: true, verifiedAt: true, pausedReason: true, webhook: true, createdAt: true, updatedAt: true,
} satisfies Record<keyof DeliveryServerView, true>);

/** Tries of an update whose credentials another update keeps replacing between its read and its write. */
const UPDATE_ATTEMPTS = 3;

export const CREDENTIALS_CHANGED_REASON = 'Credentials changed: send a passing test (testSmtpServer) to verify the server again';

/** Fields of a new server that both createDeliveryServer and addCustomSmtp decide. */
export interface NewServer {
  accountId: string | null;
  name: string;
  provider: DeliveryProvider;
  origin: ServerOrigin;
  credentials: ServerCredentials;
  status: DeliveryServerStatus;
  verifiedAt: Date | null;
  senderAddress?: string | null;
  sendingDomain?: string | null;
  testEmail?: string | null;
  ipPool?: string | null;
  quota?: { hourly?: number | null; daily?: number | null; monthly?: number | null } | null;
  pauseMs?: number | null;
}

const LIST_FINGERPRINT_SQL = `SELECT ${rowVersionsSql("id::text || ':' || xmin::text")}
  FROM delivery_servers WHERE account_id = $1 AND ($2::text IS NULL OR origin::text = $2)`;

@Injectable()
export class DeliveryServersService {
  constructor(
    @InjectRepository(DeliveryServerEntity) private readonly servers: Repository<DeliveryServerEntity>,
    private readonly scope: TenantScope,
    private readonly vault: ServerVault,
    @Inject(WebhookRegistrar) private readonly webhooks: WebhookRegistrar,
    private readonly messages: MessageStore,
    private readonly pacing: PacingService,
  ) {}

  /** The server if the viewer may see and manage it (platform servers: ADMIN only); NOT_FOUND otherwise. */
  async getManageable(viewer: Viewer, id: string): Promise<DeliveryServerEntity> {
    const server = isUuid(id) ? await this.servers.findOneBy({ id }) : null;
    if (!server) throw new NotFoundError('Delivery server', id);
    if (isAdmin(viewer)) return server;
    if (!server.accountId) throw new NotFoundError('Delivery server', id);
    await this.scope.account(viewer, server.accountId).catch(() => {
      throw new NotFoundError('Delivery server', id);
    });
    return server;
  }

  /**
   * The servers the viewer may see, newest first, as the API shows them: read as plain rows
   * (no entity hydration) and without the sealed secrets, which the list never needs. Hydrating
   * 100 servers and parsing their sealed columns cost about a fifth of a `deliveryServers`
   * request (docs/performance.md, graphql).
   */
  async list(
    viewer: Viewer,
    filter: { accountId?: string | null; origin?: ServerOrigin | null },
    /** The account of `filter.accountId` when the caller already checked the viewer reaches it. */
    reached?: AccountEntity,
  ): Promise<{ servers: DeliveryServerView[]; account: AccountEntity | null; versions: string }> {
    const qb = this.servers.createQueryBuilder('server').select([]);
    for (const column of VIEW_COLUMNS) qb.addSelect(`server.${column}`, column);
    qb.addSelect('"server".xmin::text', 'xmin');
    let account: AccountEntity | null = null;
    if (filter.accountId) {
      account = reached?.id === filter.accountId ? reached : await this.scope.account(viewer, filter.accountId);
      qb.andWhere('server.accountId = :accountId', { accountId: account.id });
    } else {
      this.scope.restrict(qb, viewer, 'server.accountId');
    }
    if (filter.origin) qb.andWhere('server.origin = :origin', { origin: filter.origin });
    const servers = await qb.orderBy('server.createdAt', 'DESC').addOrderBy('server.id', 'DESC').getRawMany<DeliveryServerView & { xmin: string }>();
    // The versions of the rows read, with them (listFingerprint gives the same for the same rows).
    return { servers, account, versions: rowVersions(servers.map((s) => `${s.id}:${s.xmin}`)) };
  }

  /**
   * The row versions (rowVersions) of the account's servers that `list` would read: they change
   * whenever one is added, changed or removed, for whatever reason and from whichever process.
   * A memoized list is served again only while they are what its answer was made from.
   */
  async listFingerprint(accountId: string, origin: ServerOrigin | null): Promise<string> {
    // Plain SQL: asked on every request of a polled list, where building it was a tenth of the time.
    const [row] = await this.servers.query<{ n: number; versions: string }[]>(LIST_FINGERPRINT_SQL, [accountId, origin]);
    return rowVersionsFrom(row);
  }

  /** Batched per request: servers by id (null where deleted). For fields of records the viewer already reached. */
  byId(ctx: object, id: string): Promise<DeliveryServerEntity | null> {
    return requestLoader<string, DeliveryServerEntity | null>(ctx, 'server.byId', async (ids) => {
      const rows = await this.servers.findBy({ id: In([...ids]) });
      return ids.map((i) => rows.find((r) => r.id === i) ?? null);
    }).load(id);
  }

  /**
   * The secret of a server's webhook URL (Elastic Email's), from its sealed webhook state; null
   * when it has none. Only for a server the viewer manages, whose webhook must be pasted by hand
   * (the resolver of `webhook`): `webhook` itself stores the URL masked. Batched per request.
   */
  async webhookSecret(ctx: object, id: string): Promise<string | null> {
    const server = await this.byId(ctx, id);
    return (server && this.vault.webhookState(server).secret) || null;
  }

  /** Batched per request: the servers each account owns, newest first. */
  ownedBy(ctx: object, accountId: string): Promise<DeliveryServerEntity[]> {
    return requestLoader<string, DeliveryServerEntity[]>(ctx, 'server.ownedBy', async (ids) => {
      const rows = await this.servers.find({ where: { accountId: In([...ids]) }, order: { createdAt: 'DESC', id: 'DESC' } });
      return ids.map((i) => rows.filter((r) => r.accountId === i));
    }).load(accountId);
  }

  /**
   * Every server that may route mail for an account, in one query: its own, the agency's defaults
   * for sub-accounts and the agency servers assigned to it, and the platform servers. `assigned`
   * marks the assignments.
   */
  async routingCandidates(accountId: string, parentId: string | null): Promise<{ servers: DeliveryServerEntity[]; assigned: Set<string> }> {
    const rows = await this.servers
      .createQueryBuilder('server')
      .leftJoin('server_assignments', 'assignment', 'assignment.server_id = server.id AND assignment.account_id = :accountId', { accountId })
      .addSelect('assignment.account_id IS NOT NULL', 'is_assigned')
      .where('server.accountId = :accountId', { accountId })
      .orWhere('server.accountId IS NULL')
      .orWhere('(server.accountId = :parentId AND (server.isDefaultForSubAccounts OR assignment.account_id IS NOT NULL))', { parentId })
      .getRawAndEntities<{ server_id: string; is_assigned: boolean }>();
    const assigned = new Set(rows.raw.filter((r) => r.is_assigned).map((r) => r.server_id));
    return { servers: rows.entities, assigned };
  }

  async create(viewer: Viewer, input: CreateDeliveryServerInput): Promise<DeliveryServerEntity> {
    let accountId: string | null = null;
    if (input.accountId) accountId = (await this.scope.account(viewer, input.accountId)).id;
    else if (!isAdmin(viewer)) throw new ForbiddenError('Only an ADMIN can create platform servers; give accountId');
    const credentials = credentialsFromInput(input.credentials);
    assertCredentialsFit(input.provider, credentials);
    assertIpPoolFits(input.provider, input.ipPool);
    return this.insert({
      accountId,
      name: input.name,
      provider: input.provider,
      origin: ServerOrigin.DELIVERY_SERVER,
      credentials,
      status: DeliveryServerStatus.PAUSED,
      verifiedAt: null,
      senderAddress: input.senderAddress,
      sendingDomain: input.sendingDomain,
      ipPool: input.ipPool,
      quota: input.quota,
      pauseMs: input.pauseMs,
    });
  }

  /** Saves a new server, then registers its webhooks (a registration failure is recorded, never fatal). */
  async insert(spec: NewServer): Promise<DeliveryServerEntity> {
    const id = randomUUID();
    const server = this.servers.create({
      id,
      accountId: spec.accountId,
      name: spec.name,
      provider: spec.provider,
      origin: spec.origin,
      status: spec.status,
      verifiedAt: spec.verifiedAt,
      sealedCredentials: this.vault.sealCredentials(id, spec.credentials),
      credentialSummary: summarize(spec.provider, spec.credentials),
      senderAddress: spec.senderAddress ?? null,
      sendingDomain: spec.sendingDomain ?? null,
      testEmail: spec.testEmail ?? null,
      ipPool: spec.ipPool ?? null,
      quotaHourly: spec.quota?.hourly ?? null,
      quotaDaily: spec.quota?.daily ?? null,
      quotaMonthly: spec.quota?.monthly ?? null,
      pauseMs: spec.pauseMs ?? 0,
      webhook: pendingWebhook(),
      pausedReason: null,
    });
    await this.servers.insert(server);
    return this.webhooks.register(await this.servers.findOneByOrFail({ id }));
  }

  /**
   * Writes only the columns the input sets, in one statement (see reload): new credentials also
   * clear verifiedAt and pause the server there. New credentials are merged with the ones read, so
   * they are written only if those are still stored; if another update replaced them meanwhile, the
   * input is applied again to what is stored now.
   *
   * A change of the provider's own API block (keys, region, SES configuration set, Mailgun domain
   * or signing key) may move the server to another account, region or domain, where the webhooks
   * registered under the old block no longer serve it: they are registered again under the new
   * block after the write, the outcome recorded on `webhook` as createDeliveryServer records it (a
   * failure never fails the update). Registration is idempotent in every adapter, so a change
   * within one account lands on the same provider objects.
   *
   * The registration under the old block is left behind, not removed: no adapter can tell whether
   * the old block reaches other provider objects than the new one (an AWS key does not say its
   * account; two keys of one SendGrid, SparkPost or Elastic Email account find the same webhook),
   * and removing after a rotation within one account would delete what was just registered; the
   * old keys may be revoked already; and events for mail sent before the change still come through
   * it (Elastic Email's still verify; Mailgun's only within one account, since posts are checked
   * with the signing key of the account the new API key opens). Left at the provider: SES, the old region's or
   * account's set, topic and subscription (silent once no send names the set); Mailgun, our URL on
   * the old domain's webhooks; the others, the old account's webhook. The new registration's state
   * replaces the old one, so deleteDeliveryServer no longer reaches it: the owner removes it there.
   */
  async update(viewer: Viewer, id: string, input: UpdateDeliveryServerInput): Promise<DeliveryServerEntity> {
    let server = await this.getManageable(viewer, id);
    for (let attempt = 1; ; attempt++) {
      const { changes, credentialsRead, reRegister } = this.changesOf(server, input);
      if (!Object.keys(changes).length) return server;
      const write = this.servers.createQueryBuilder().update().set(changes).where('id = :id', { id: server.id });
      if (credentialsRead) write.andWhere('sealed_credentials = CAST(:credentialsRead AS jsonb)', { credentialsRead: JSON.stringify(credentialsRead) });
      if ((await write.execute().catch((err: unknown) => rethrowDefaultConflict(err, changes))).affected) {
        await this.rerouteAfter(server, changes);
        const saved = await this.reload(server.id);
        return reRegister ? this.webhooks.register(saved) : saved;
      }
      if (attempt === UPDATE_ATTEMPTS) throw new ConflictError(`Delivery server ${server.name} kept changing while it was being updated: try again`);
      server = await this.reload(server.id); // NOT_FOUND if it was deleted meanwhile
    }
  }

  /**
   * Mail waiting for this server waited for it as it was. Paused by new credentials or pinned to
   * another domain, the server may no longer take it: all of it is routed again now (as
   * pauseDeliveryServer does). A limit raised or lifted: the mail waiting for a window to reset is
   * routed again now, not when the window ends (a raised monthly limit would otherwise leave it
   * waiting for the 1st); mail waiting out a retry's backoff keeps waiting. A shorter pause: the
   * mail waiting for its turn (told when to come back by the old pause) is routed again now too.
   */
  private async rerouteAfter(server: DeliveryServerEntity, changes: QueryDeepPartialEntity<DeliveryServerEntity>): Promise<void> {
    const paused = changes.status === DeliveryServerStatus.PAUSED && server.status !== DeliveryServerStatus.PAUSED;
    const repinned = changes.sendingDomain !== undefined && changes.sendingDomain !== server.sendingDomain;
    const raised = (['quotaHourly', 'quotaDaily', 'quotaMonthly'] as const).some((column) => {
      if (!(column in changes)) return false;
      const [before, after] = [server[column], changes[column] as number | null];
      return before !== null && (after === null || after > before);
    });
    const quicker = changes.pauseMs !== undefined && (changes.pauseMs as number) < server.pauseMs;
    if (paused || repinned) await this.rerouteAllWaiting(server.id);
    else if (raised || quicker) {
      // Places told by the old pause are wrong now, and everyone in the line is routed again.
      if (quicker) await this.pacing.clearLine(server.id).catch(() => undefined);
      await this.messages.reroute(await this.messages.waitingFor(server.id, { forQuotaOnly: true }));
    }
  }

  /**
   * The columns an update sets, checked against the server as read; `credentialsRead` when new
   * credentials are among them; `reRegister` when they change the provider's own API block and keep
   * one (without it there is nothing to register with, and the registration made before stays).
   */
  private changesOf(
    server: DeliveryServerEntity,
    input: UpdateDeliveryServerInput,
  ): { changes: QueryDeepPartialEntity<DeliveryServerEntity>; credentialsRead: SealedSecret | null; reRegister: boolean } {
    const changes: QueryDeepPartialEntity<DeliveryServerEntity> = {};
    let credentialsRead: SealedSecret | null = null;
    let reRegister = false;
    if (input.name !== undefined) changes.name = input.name;
    if (input.credentials !== undefined) {
      const stored = this.vault.credentials(server);
      const next = mergeCredentials(stored, input.credentials);
      assertCredentialsFit(server.provider, next);
      if (credentialsChanged(stored, next)) {
        credentialsRead = server.sealedCredentials;
        changes.sealedCredentials = this.vault.sealCredentials(server.id, next);
        changes.credentialSummary = summarize(server.provider, next);
        // New credentials are unproven: the server leaves routing until a test passes again.
        changes.verifiedAt = null;
        changes.status = DeliveryServerStatus.PAUSED;
        changes.pausedReason = CREDENTIALS_CHANGED_REASON;
        const own = API_BLOCK_OF[server.provider];
        reRegister = own !== null && Boolean(next[own]) && apiCredentialsChanged(server.provider, stored, next);
      }
    }
    if (input.senderAddress !== undefined) changes.senderAddress = input.senderAddress;
    if (input.sendingDomain !== undefined) {
      if (server.origin === ServerOrigin.CUSTOM_SMTP && input.sendingDomain !== server.sendingDomain) {
        throw BadUserInputError.field('sendingDomain', "of a custom SMTP is its email's domain and cannot change (add another custom SMTP instead)");
      }
      changes.sendingDomain = input.sendingDomain;
    }
    if (input.quota !== undefined) {
      // null clears every limit; otherwise only the windows given change.
      const q = input.quota;
      if (q === null || q.hourly !== undefined) changes.quotaHourly = q?.hourly ?? null;
      if (q === null || q.daily !== undefined) changes.quotaDaily = q?.daily ?? null;
      if (q === null || q.monthly !== undefined) changes.quotaMonthly = q?.monthly ?? null;
    }
    if (input.pauseMs !== undefined) changes.pauseMs = input.pauseMs;
    if (input.ipPool !== undefined) {
      assertIpPoolFits(server.provider, input.ipPool);
      changes.ipPool = input.ipPool;
    }
    return { changes, credentialsRead, reRegister };
  }

  async activate(viewer: Viewer, id: string): Promise<DeliveryServerEntity> {
    const server = await this.getManageable(viewer, id);
    // Verified is checked by the write itself: new credentials saved since the read cleared verifiedAt.
    const { affected } = await this.servers.update({ id: server.id, verifiedAt: Not(IsNull()) }, { status: DeliveryServerStatus.ACTIVE, pausedReason: null });
    if (!affected) {
      await this.reload(server.id); // NOT_FOUND if it was deleted since the read: being unverified is not the reason then
      throw new DomainError(ErrorCode.SERVER_NOT_VERIFIED, `Delivery server ${server.name} is not verified: send a passing test (testSmtpServer) first`);
    }
    // Mail waiting for a full server may have room here now (a platform server: any account's).
    if (server.status !== DeliveryServerStatus.ACTIVE) this.messages.rerouteWaitersOf(server.accountId);
    return this.reload(server.id);
  }

  async pause(viewer: Viewer, id: string): Promise<DeliveryServerEntity> {
    const server = await this.getManageable(viewer, id);
    await this.servers.update({ id: server.id }, { status: DeliveryServerStatus.PAUSED, pausedReason: null });
    await this.rerouteAllWaiting(server.id);
    return this.reload(server.id);
  }

  /**
   * A test's outcome: lastTest always, verifiedAt only when it passed with the credentials still
   * stored (new ones saved while it ran are not verified by it).
   */
  async recordTest(server: DeliveryServerEntity, result: StoredTestResult): Promise<DeliveryServerEntity> {
    await this.servers
      .createQueryBuilder()
      .update()
      .set({
        lastTest: result,
        verifiedAt: () => `CASE WHEN :ok AND sealed_credentials = CAST(:sealed AS jsonb) THEN CAST(:testedAt AS timestamptz) ELSE verified_at END`,
      })
      .where('id = :id')
      .setParameters({ id: server.id, ok: result.ok, sealed: JSON.stringify(server.sealedCredentials), testedAt: result.testedAt })
      .execute();
    return this.reload(server.id);
  }

  /**
   * The row as it is now, after a write of some of its columns. Writes that follow a read in
   * another call write only the columns they change: saving the whole entity read earlier would
   * put back whatever a concurrent update changed meanwhile (new credentials, a name, a quota).
   */
  async reload(id: string): Promise<DeliveryServerEntity> {
    const server = await this.servers.findOneBy({ id });
    if (!server) throw new NotFoundError('Delivery server', id);
    return server;
  }

  /** Removes what was registered at the provider (best effort), then the server and its links. */
  async delete(viewer: Viewer, id: string): Promise<boolean> {
    const server = await this.getManageable(viewer, id);
    let waiting: Awaited<ReturnType<MessageStore['waitingFor']>> = [];
    // The row goes under the registration lock, right after the removal: no registration in between.
    await this.webhooks.remove(server, async () => {
      // Found before the delete (which clears their server_id), re-queued after it (so they cannot route to it again).
      waiting = await this.messages.waitingFor(server.id);
      await this.servers.delete({ id: server.id });
    });
    await this.rerouteAllWaiting(server.id, waiting);
    return true;
  }

  /**
   * The system pauses a server (e.g. its login keeps failing, its complaints): out of routing until
   * a person acts. Its waiting mail is routed again in the background: the caller may be a
   * provider's webhook request, which a large backlog would hold past the provider's time-out.
   */
  async pauseForProblem(id: string, reason: string): Promise<void> {
    const result = await this.servers.update({ id, status: DeliveryServerStatus.ACTIVE }, { status: DeliveryServerStatus.PAUSED, pausedReason: reason });
    if (result.affected) this.messages.rerouteInBackground(`Mail waiting for paused server ${id}`, () => this.rerouteAllWaiting(id));
  }

  /**
   * All the mail waiting for the server is routed again now (found now, or before a delete): its
   * waiting line goes too, as nobody comes back to it.
   */
  private async rerouteAllWaiting(serverId: string, waiting?: string[]): Promise<void> {
    const ids = waiting ?? (await this.messages.waitingFor(serverId));
    // Best effort: a line nobody clears lapses place by place (a minute after each place's time).
    await this.pacing.clearLine(serverId).catch(() => undefined);
    await this.messages.reroute(ids);
  }

  /** Re-register the provider webhooks (registerWebhooks mutation). */
  async registerWebhooks(viewer: Viewer, id: string): Promise<DeliveryServerEntity> {
    return this.webhooks.register(await this.getManageable(viewer, id));
  }
}

/** The default flag each of the hand-written unique indexes keeps to one per owner and sending domain. */
const DEFAULT_INDEX_SCOPE: Record<string, DefaultScope> = {
  UQ_default_for_account: DefaultScope.ACCOUNT,
  UQ_default_for_sub_accounts: DefaultScope.SUB_ACCOUNTS,
};

/**
 * A default flag moves with its server to the new sending domain, unless that domain already has a
 * default of the same scope for the owner: the write then breaks the scope's unique index and
 * changes nothing, and the caller learns which field and which default are in the way. Checked by
 * the index, not by a read before the write, so a setDefaultSmtp racing the update cannot slip in.
 */
function rethrowDefaultConflict(err: unknown, changes: QueryDeepPartialEntity<DeliveryServerEntity>): never {
  const scope = DEFAULT_INDEX_SCOPE[violatedUniqueIndex(err) ?? ''];
  if (!scope || changes.sendingDomain === undefined) throw err;
  const domain = changes.sendingDomain as string | null;
  const target = domain === null ? 'null (any domain)' : `"${domain}"`;
  throw ConflictError.field(
    'sendingDomain',
    `cannot be ${target}: this server is a ${scope} default, and another server of its account already is the ${scope} default for ${domain ?? 'any domain'}; unset one of the two defaults (unsetDefaultSmtp) first`,
  );
}

function assertIpPoolFits(provider: DeliveryProvider, ipPool: string | null | undefined): void {
  if (ipPool && provider !== DeliveryProvider.SPARKPOST) throw BadUserInputError.field('ipPool', 'applies only to SPARKPOST servers');
}

function pendingWebhook(): StoredWebhook {
  return { status: WebhookStatus.PENDING, url: null, events: [], error: null, registeredAt: null };
}
