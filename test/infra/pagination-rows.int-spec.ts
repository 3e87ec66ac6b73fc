import { DataSource, type ObjectLiteral, type SelectQueryBuilder } from 'typeorm';
import { type Connection, paginate, plainFields, plainRows } from '../../src/infra/graphql/pagination';
import { AccountEntity, Addon } from '../../src/modules/accounts/account.entity';
import { CampaignEntity } from '../../src/modules/campaigns/campaign.entity';
import { MessageEntity, MessageEventEntity, MessageSource } from '../../src/modules/messages/message.entity';
import { MessageStore } from '../../src/modules/messages/message-store';
import { SuppressionEntity } from '../../src/modules/suppressions/suppression.entity';
import { newAgency, newSubAccount } from '../factories/accounts';
import { newCampaign } from '../factories/campaigns';
import { createTestApp, type TestApp } from '../utils/create-test-app';

/** Lists read their page as plain rows (no entity hydration): the rows must be what TypeORM would have made. */
describe('plainRows (connection pages read raw)', () => {
  let t: TestApp;
  let dataSource: DataSource;
  beforeAll(async () => {
    t = await createTestApp({ ROLE: 'api' });
    dataSource = t.app.get(DataSource);
    const agency = await newAgency(t);
    const sub = await newSubAccount(t, agency.id);
    await dataSource.query(`UPDATE accounts SET addons = $2 WHERE id = $1`, [sub.id, [Object.values(Addon)[0]]]);
    const campaign = await newCampaign(t, agency.id);
    // Every column kind the entities hold: JSON headers, a JSON error (the suppressed one), nulls, dates, numbers, enums.
    await t.app.get(MessageStore).accept(
      { accountId: agency.id, campaignId: campaign.id, source: MessageSource.CAMPAIGN, from: 'news@example.com', replyTo: 'desk@example.com', subject: 'Hi', html: '<p>Hi</p>', text: null, headers: [{ name: 'X-Tag', value: 'a' }] },
      [{ to: 'one@example.org' }, { to: 'two@example.org', idempotencyKey: 'k-2' }, { to: 'gone@example.org', suppressed: true }],
    );
    await dataSource.query(`INSERT INTO suppressions (account_id, email, reason) VALUES ($1, 'gone@example.org', 'HARD_BOUNCE'), ($1, 'spam@example.org', 'COMPLAINT')`, [agency.id]);
  });
  afterAll(async () => {
    await t.close();
  });

  const newestFirst = <E extends ObjectLiteral>(entity: new () => E, alias: string): SelectQueryBuilder<E> =>
    dataSource.getRepository(entity).createQueryBuilder(alias).orderBy(`${alias}.createdAt`, 'DESC');

  it.each([
    ['accounts', AccountEntity, 'account'],
    ['campaigns', CampaignEntity, 'campaign'],
    ['messages', MessageEntity, 'message'],
    ['suppressions', SuppressionEntity, 'suppression'],
  ] as const)('reads %s exactly as TypeORM hydrates them', async (_name, entity, alias) => {
    const qb = newestFirst<ObjectLiteral>(entity as new () => ObjectLiteral, alias);
    expect(plainFields(qb)).not.toBeNull(); // the list really takes the plain path
    const hydrated = await qb.clone().take(50).getMany();
    const plain = await plainRows(qb.clone(), 50);
    expect(hydrated.length).toBeGreaterThan(0);
    expect(plain).toEqual(hydrated);
  });

  it('keeps parsed JSON, arrays and dates, and honours the limit', async () => {
    const [message] = await plainRows(newestFirst(MessageEntity, 'message').andWhere(`message.status = 'SUPPRESSED'`), 10);
    expect(message.headers).toEqual([{ name: 'X-Tag', value: 'a' }]);
    expect(message.error).toMatchObject({ code: 'SUPPRESSED' });
    expect(message.createdAt).toBeInstanceOf(Date);
    expect(message.text).toBeNull();
    const accounts = await plainRows(newestFirst(AccountEntity, 'account'), 10);
    expect(accounts.find((a) => a.addons.length)?.addons).toEqual([Object.values(Addon)[0]]);
    expect(await plainRows(newestFirst(MessageEntity, 'message'), 2)).toHaveLength(2);
  });

  it('hydrates whatever it cannot read plain: a bigint column, a partial select, relation ids', () => {
    expect(plainFields(dataSource.getRepository(MessageEventEntity).createQueryBuilder('event'))).toBeNull();
    expect(plainFields(newestFirst(MessageEntity, 'message').select(['message.id', 'message.createdAt']))).toBeNull();
    expect(plainFields(newestFirst(MessageEntity, 'message').loadRelationIdAndMap('message.campaignRef', 'message.campaign'))).toBeNull();
  });

  it.each([
    ['messages', MessageEntity, 'message', 'id'],
    ['suppressions (email breaks ties)', SuppressionEntity, 'suppression', 'email'],
  ] as const)('pages through %s one row at a time with cursors, in the order TypeORM reads them', async (_name, entity, alias, tie) => {
    type Row = ObjectLiteral & { createdAt: Date };
    const qb = dataSource.getRepository(entity as new () => Row).createQueryBuilder(alias);
    const expected = await qb.clone().orderBy(`${alias}.createdAt`, 'DESC').addOrderBy(`${alias}.${tie}`, 'DESC').getMany();
    const seen: Row[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const connection: Connection<Row> = await paginate(qb, { first: 1, after }, (row) => row, { tieBreaker: tie });
      seen.push(...connection.edges.map((e) => e.node));
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    expect(expected.length).toBeGreaterThan(1);
    expect(seen).toEqual(expected);
  });

  it('reads a query with a join through TypeORM, so joined relations are still hydrated', async () => {
    const rows = await plainRows(newestFirst(MessageEntity, 'message').leftJoinAndSelect('message.campaign', 'campaign'), 10);
    expect(rows).toHaveLength(3);
    expect(rows[0].campaign).toBeInstanceOf(CampaignEntity);
  });
});
