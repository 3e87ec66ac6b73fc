import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, type EntityManager, In, Repository } from 'typeorm';
import type { Viewer } from '../../infra/auth/viewer';
import { BadUserInputError, NotFoundError } from '../../infra/errors/domain-error';
import { requestLoader } from '../../infra/graphql/request-loaders';
import { AccountEntity } from '../accounts/account.entity';
import { DeliveryServerEntity, ServerAssignmentEntity } from './delivery-server.entity';
import { DefaultScope } from './delivery-server.model';
import { DeliveryServersService } from './delivery-servers.service';
import { MessageStore } from '../messages/message-store';
import { isUuid } from '../../infra/validation';

const FLAG: Record<DefaultScope, 'isDefaultForAccount' | 'isDefaultForSubAccounts'> = {
  [DefaultScope.ACCOUNT]: 'isDefaultForAccount',
  [DefaultScope.SUB_ACCOUNTS]: 'isDefaultForSubAccounts',
};

/** Defaults (per owner, scope and sending domain) and assignments to an agency's sub-accounts. */
@Injectable()
export class ServerDefaultsService {
  constructor(
    private readonly servers: DeliveryServersService,
    @InjectRepository(AccountEntity) private readonly accounts: Repository<AccountEntity>,
    @InjectRepository(ServerAssignmentEntity) private readonly assignments: Repository<ServerAssignmentEntity>,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly messages: MessageStore,
  ) {}

  /** Makes the server the default; the previous default for that owner, scope and domain loses its flag in the same transaction. */
  async setDefault(viewer: Viewer, id: string, scope: DefaultScope): Promise<DeliveryServerEntity> {
    const read = await this.servers.getManageable(viewer, id);
    const owner = await this.ownerOf(read, scope);
    const flag = FLAG[scope];
    const saved = await this.dataSource.transaction(async (tx) => {
      // Serialises concurrent setDefault calls for one owner.
      await tx.getRepository(AccountEntity).createQueryBuilder('a').setLock('pessimistic_write').where('a.id = :id', { id: owner.id }).getOne();
      // The domain as it is now, held until commit: an update may have moved the server to another
      // domain since the read above (clearing the old domain's default would then take the flag
      // from the wrong server), or a delete removed it (flagging nothing, and answering success).
      const server = await lockServer(tx, read.id);
      await tx
        .getRepository(DeliveryServerEntity)
        .createQueryBuilder()
        .update()
        .set({ [flag]: false })
        .where('account_id = :owner AND id <> :id', { owner: owner.id, id: server.id })
        .andWhere(`coalesce(sending_domain, '') = :domain`, { domain: server.sendingDomain ?? '' })
        .execute();
      await tx.getRepository(DeliveryServerEntity).update({ id: server.id }, { [flag]: true });
      server[flag] = true;
      return server;
    });
    this.messages.rerouteWaitersOf(owner.id);
    return saved;
  }

  async unsetDefault(viewer: Viewer, id: string, scope: DefaultScope): Promise<DeliveryServerEntity> {
    const server = await this.servers.getManageable(viewer, id);
    await this.dataSource.getRepository(DeliveryServerEntity).update({ id: server.id }, { [FLAG[scope]]: false });
    if (server.accountId) this.messages.rerouteWaitersOf(server.accountId);
    return this.servers.reload(server.id);
  }

  /** Replaces the set of the owner agency's sub-accounts that use this server. */
  async assign(viewer: Viewer, id: string, accountIds: string[]): Promise<DeliveryServerEntity> {
    const server = await this.servers.getManageable(viewer, id);
    const owner = await this.ownerOf(server, DefaultScope.SUB_ACCOUNTS, 'id', 'can be assigned to sub-accounts only when an agency owns it');
    const wanted = [...new Set(accountIds)];
    const subs = wanted.length ? await this.accounts.findBy({ id: In(wanted.filter((x) => isUuid(x))), parentId: owner.id }) : [];
    const unknown = wanted.filter((x) => !subs.some((s) => s.id === x));
    if (unknown.length) throw BadUserInputError.field('accountIds', `must be sub-accounts of the owner agency; not: ${unknown.join(', ')}`);
    const saved = await this.dataSource.transaction(async (tx) => {
      // Without the row lock two assigns interleave their delete and insert (leaving the union of
      // both sets, or a duplicate key when the sets overlap), and a delete of the server between
      // the read above and the insert fails it on the foreign key.
      const locked = await lockServer(tx, server.id);
      const repo = tx.getRepository(ServerAssignmentEntity);
      await repo.delete({ serverId: server.id });
      if (subs.length) await repo.insert(subs.map((s) => ({ serverId: server.id, accountId: s.id })));
      return locked;
    });
    this.messages.rerouteWaitersOf(owner.id);
    return saved;
  }

  /** Batched per request: the accounts each server is assigned to, oldest assignment first. */
  assignedAccounts(ctx: object, serverId: string): Promise<AccountEntity[]> {
    return requestLoader<string, AccountEntity[]>(ctx, 'server.assignedAccounts', async (ids) => {
      const rows = await this.assignments.find({ where: { serverId: In([...ids]) }, relations: { account: true }, order: { createdAt: 'ASC' } });
      return ids.map((i) => rows.filter((r) => r.serverId === i && r.account).map((r) => r.account as AccountEntity));
    }).load(serverId);
  }

  private async ownerOf(server: DeliveryServerEntity, scope: DefaultScope, field = 'scope', problem = 'SUB_ACCOUNTS applies only to a server an agency owns'): Promise<AccountEntity> {
    if (!server.accountId) throw BadUserInputError.field('id', 'is a platform server: defaults and assignments apply to servers an account owns');
    const owner = await this.accounts.findOneByOrFail({ id: server.accountId });
    if (scope === DefaultScope.SUB_ACCOUNTS && owner.parentId) throw BadUserInputError.field(field, problem);
    return owner;
  }
}

/**
 * Locks the server's row for the rest of the transaction; NOT_FOUND if it was deleted since it was
 * read. FOR NO KEY UPDATE, not FOR UPDATE: it excludes a delete of the row and the other writers of
 * it just as well, but not the foreign-key checks of messages written for the server meanwhile.
 */
async function lockServer(tx: EntityManager, id: string): Promise<DeliveryServerEntity> {
  const server = await tx.getRepository(DeliveryServerEntity).createQueryBuilder('server').setLock('for_no_key_update').where('server.id = :id', { id }).getOne();
  if (!server) throw new NotFoundError('Delivery server', id);
  return server;
}
