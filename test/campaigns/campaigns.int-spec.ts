import { Client } from 'pg';
import { newAgency, newSubAccount, newToken } from '../factories/accounts';
import { CAMPAIGN_FIELDS, CREATE_CAMPAIGN, campaignAct, campaignInput, campaignOperation, type CampaignView, newCampaign, zeroStats } from '../factories/campaigns';
import { createTestApp, type TestApp } from '../utils/create-test-app';

const ADD_RECIPIENTS = `mutation($id: ID!, $r: [String!]!) { addCampaignRecipients(id: $id, recipients: $r) { ${CAMPAIGN_FIELDS} } }`;
const LIST = `query($a: ID!, $s: CampaignStatus, $first: Int, $after: String) {
  campaigns(accountId: $a, status: $s, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id status } } } }`;

interface Page {
  campaigns: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { cursor: string; node: { id: string; status: string } }[] };
}

/** Campaigns without sending: drafts, validation, recipients, state rules and tenancy. */
describe('campaigns', () => {
  let t: TestApp;
  let db: Client;
  beforeAll(async () => {
    t = await createTestApp({ RETRY_BASE_MS: '100', SWEEP_INTERVAL_MS: '500' });
    db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    await t.close();
  });

  const count = async (sql: string, params: unknown[] = []): Promise<number> => Number((await db.query<{ n: string }>(sql, params)).rows[0].n);
  const recipientsOf = async (id: string): Promise<string[]> =>
    (await db.query<{ email: string }>('SELECT email FROM campaign_recipients WHERE campaign_id = $1 ORDER BY email', [id])).rows.map((r) => r.email);

  it('creates a DRAFT with trimmed, lower-cased, de-duplicated recipients; reads and lists it', async () => {
    const agency = await newAgency(t);
    const created = await newCampaign(t, agency.id, {
      name: 'Spring',
      from: ' News@Brand.Example ',
      subject: 'Spring is here',
      recipients: ['  Ann@Example.com', 'ann@example.com', 'BOB@example.com ', 'bob@EXAMPLE.com', 'cy@example.org'],
    });
    expect(created).toMatchObject({
      name: 'Spring',
      from: 'news@brand.example',
      subject: 'Spring is here',
      status: 'DRAFT',
      pauseCode: null,
      pauseReason: null,
      startedAt: null,
      completedAt: null,
      account: { id: agency.id },
      stats: zeroStats({ total: 3 }),
    });
    expect(await recipientsOf(created.id)).toEqual(['ann@example.com', 'bob@example.com', 'cy@example.org']);
    expect(await campaignAct(t, 'campaign', created.id)).toEqual(created);

    const second = await newCampaign(t, agency.id);
    const all = await t.gqlOk<Page>(LIST, { a: agency.id });
    expect(all.campaigns.totalCount).toBe(2);
    expect(all.campaigns.edges.map((e) => e.node.id)).toEqual([second.id, created.id]); // newest first
    const page1 = await t.gqlOk<Page>(LIST, { a: agency.id, first: 1 });
    expect(page1.campaigns).toMatchObject({ totalCount: 2, pageInfo: { hasNextPage: true } });
    const page2 = await t.gqlOk<Page>(LIST, { a: agency.id, first: 1, after: page1.campaigns.pageInfo.endCursor });
    expect(page2.campaigns.edges.map((e) => e.node.id)).toEqual([created.id]);
    expect((await t.gqlOk<Page>(LIST, { a: agency.id, s: 'SENDING' })).campaigns.totalCount).toBe(0);
    expect((await t.gqlOk<Page>(LIST, { a: agency.id, s: 'DRAFT' })).campaigns.totalCount).toBe(2);
  });

  it('refuses invalid input naming the bad addresses, and stores nothing', async () => {
    const agency = await newAgency(t);
    const campaignsBefore = await count('SELECT count(*) AS n FROM campaigns');
    const recipientsBefore = await count('SELECT count(*) AS n FROM campaign_recipients');

    const one = await t.gql(CREATE_CAMPAIGN, { input: campaignInput(agency.id, { recipients: ['ok@example.com', 'not-an-address', 'fine@example.com'] }) });
    expect(one.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['recipients'] });
    expect(one.errors?.[0].message).toContain('"not-an-address"');

    const many = await t.gql(CREATE_CAMPAIGN, { input: campaignInput(agency.id, { recipients: ['a@example.com', 'two@@example.com', 'x y@example.com', 'a@example.com, b@example.com'] }) });
    expect(many.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['recipients'] });
    for (const bad of ['two@@example.com', 'x y@example.com', 'a@example.com, b@example.com']) expect(many.errors?.[0].message).toContain(JSON.stringify(bad));
    expect(many.errors?.[0].message).not.toContain('"a@example.com"');

    for (const [extra, fields] of [
      [{ subject: 'line\r\nBcc: victim@example.com' }, ['subject']],
      [{ subject: '' }, ['subject']],
      [{ from: 'nope' }, ['from']],
      [{ name: '' }, ['name']],
      [{ name: '   ' }, ['name']],
      [{ html: null, text: null }, ['html', 'text']],
      [{ accountId: 'not-an-id' }, ['accountId']],
    ] as const) {
      const res = await t.gql(CREATE_CAMPAIGN, { input: campaignInput(agency.id, extra) });
      expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields });
    }
    expect(await count('SELECT count(*) AS n FROM campaigns')).toBe(campaignsBefore);
    expect(await count('SELECT count(*) AS n FROM campaign_recipients')).toBe(recipientsBefore);
  });

  it('adds recipients to a DRAFT only, de-duplicated against those already there', async () => {
    const agency = await newAgency(t);
    const draft = await newCampaign(t, agency.id, { recipients: ['ann@example.com', 'bob@example.com'] });
    const added = await t.gqlOk<{ addCampaignRecipients: CampaignView }>(ADD_RECIPIENTS, { id: draft.id, r: ['BOB@example.com', ' dee@example.com', 'dee@example.com', 'eve@example.com'] });
    expect(added.addCampaignRecipients).toMatchObject({ id: draft.id, status: 'DRAFT', stats: zeroStats({ total: 4 }) });
    expect(await recipientsOf(draft.id)).toEqual(['ann@example.com', 'bob@example.com', 'dee@example.com', 'eve@example.com']);

    const bad = await t.gql(ADD_RECIPIENTS, { id: draft.id, r: ['zed@example.com', 'broken@'] });
    expect(bad.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['recipients'] });
    expect(bad.errors?.[0].message).toContain('"broken@"');
    expect(await recipientsOf(draft.id)).toHaveLength(4);

    // No delivery server: start leaves it PAUSED (NO_ROUTE), no longer a DRAFT.
    const paused = await campaignAct(t, 'startCampaign', draft.id);
    expect(paused).toMatchObject({ status: 'PAUSED', pauseCode: 'NO_ROUTE', startedAt: null, stats: zeroStats({ total: 4 }) });
    expect(paused.pauseReason).toMatch(/no delivery servers/);
    const late = await t.gql(ADD_RECIPIENTS, { id: draft.id, r: ['fay@example.com'] });
    expect(late.errors?.[0].extensions?.code).toBe('CONFLICT');
    expect(await recipientsOf(draft.id)).toHaveLength(4);
    expect(await count('SELECT count(*) AS n FROM messages WHERE campaign_id = $1', [draft.id])).toBe(0);
  });

  it('makes start a DRAFT-only transition (CONFLICT otherwise) and refuses a campaign without recipients', async () => {
    const agency = await newAgency(t);
    const empty = await newCampaign(t, agency.id, { recipients: [] });
    expect(empty.stats.total).toBe(0);
    const refused = await t.gql(campaignOperation('startCampaign'), { id: empty.id });
    expect(refused.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['id'] });
    expect((await campaignAct(t, 'campaign', empty.id)).status).toBe('DRAFT');

    const draft = await newCampaign(t, agency.id);
    expect((await campaignAct(t, 'startCampaign', draft.id)).status).toBe('PAUSED'); // no route
    const again = await t.gql(campaignOperation('startCampaign'), { id: draft.id });
    expect(again.errors?.[0].extensions?.code).toBe('CONFLICT');
    expect(again.errors?.[0].message).toMatch(/resumeCampaign/);
    // Resume re-checks the route: still none, so it stays PAUSED with the reason.
    expect(await campaignAct(t, 'resumeCampaign', draft.id)).toMatchObject({ status: 'PAUSED', pauseCode: 'NO_ROUTE' });
    // Pausing a PAUSED campaign changes nothing; a DRAFT can be neither paused nor resumed.
    expect(await campaignAct(t, 'pauseCampaign', draft.id)).toMatchObject({ status: 'PAUSED', pauseCode: 'NO_ROUTE' });
    for (const action of ['pauseCampaign', 'resumeCampaign'] as const) {
      expect((await t.gql(campaignOperation(action), { id: empty.id })).errors?.[0].extensions?.code).toBe('CONFLICT');
    }
  });

  it('keeps tenants apart: other tenants get NOT_FOUND for every operation; an agency reaches its sub-accounts', async () => {
    const agency = await newAgency(t);
    const sub = await newSubAccount(t, agency.id);
    const other = await newAgency(t);
    const agencyToken = (await newToken(t, agency.id)).token;
    const subToken = (await newToken(t, sub.id)).token;
    const otherToken = (await newToken(t, other.id)).token;

    const mine = await newCampaign(t, sub.id, {}, subToken);
    expect((await campaignAct(t, 'campaign', mine.id, agencyToken)).id).toBe(mine.id);
    expect((await t.gqlOk<Page>(LIST, { a: sub.id }, agencyToken)).campaigns.totalCount).toBe(1);

    for (const token of [otherToken, subToken]) {
      const theirs = token === otherToken ? mine.id : (await newCampaign(t, agency.id, {}, agencyToken)).id;
      for (const action of ['campaign', 'startCampaign', 'pauseCampaign', 'resumeCampaign'] as const) {
        const res = await t.gql(campaignOperation(action), { id: theirs }, token);
        expect(res.errors?.[0].extensions?.code).toBe('NOT_FOUND');
      }
      expect((await t.gql(ADD_RECIPIENTS, { id: theirs, r: ['x@example.com'] }, token)).errors?.[0].extensions?.code).toBe('NOT_FOUND');
    }
    expect((await t.gql(LIST, { a: sub.id }, otherToken)).errors?.[0].extensions?.code).toBe('NOT_FOUND');
    expect((await t.gql(CREATE_CAMPAIGN, { input: campaignInput(agency.id) }, subToken)).errors?.[0].extensions?.code).toBe('NOT_FOUND');
    expect((await t.gql(campaignOperation('campaign'), { id: '00000000-0000-4000-8000-000000000000' })).errors?.[0].extensions?.code).toBe('NOT_FOUND');
    expect((await campaignAct(t, 'campaign', mine.id, subToken)).status).toBe('DRAFT');
  });

  it('creates a 50,000-recipient campaign in one call', async () => {
    const agency = await newAgency(t);
    const recipients = Array.from({ length: 50_000 }, (_, i) => `subscriber.${i}@list${i % 97}.example.com`);
    recipients[49_999] = recipients[0].toUpperCase(); // a duplicate in another case collapses
    const campaign = await newCampaign(t, agency.id, { recipients });
    expect(campaign.stats).toEqual(zeroStats({ total: 49_999 }));
    expect(await count('SELECT count(*) AS n FROM campaign_recipients WHERE campaign_id = $1', [campaign.id])).toBe(49_999);
    const added = await t.gqlOk<{ addCampaignRecipients: CampaignView }>(ADD_RECIPIENTS, { id: campaign.id, r: ['last.one@example.com'] });
    expect(added.addCampaignRecipients.stats.total).toBe(50_000);
  }, 60_000);
});
