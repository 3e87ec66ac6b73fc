import type { TestApp } from '../utils/create-test-app';

export const CAMPAIGN_FIELDS = `id name from subject status pauseReason pauseCode createdAt startedAt completedAt account { id }
  stats { total queued deferred sent delivered failed bounced complained suppressed }`;

export interface CampaignStatsView {
  total: number;
  queued: number;
  deferred: number;
  sent: number;
  delivered: number;
  failed: number;
  bounced: number;
  complained: number;
  suppressed: number;
}

export interface CampaignView {
  id: string;
  name: string;
  from: string;
  subject: string;
  status: string;
  pauseReason: string | null;
  pauseCode: string | null;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  account: { id: string };
  stats: CampaignStatsView;
}

export const zeroStats = (overrides: Partial<CampaignStatsView> = {}): CampaignStatsView => ({
  total: 0,
  queued: 0,
  deferred: 0,
  sent: 0,
  delivered: 0,
  failed: 0,
  bounced: 0,
  complained: 0,
  suppressed: 0,
  ...overrides,
});

let counter = 0;

/** A complete CreateCampaignInput; recipients default to three fresh addresses. */
export function campaignInput(accountId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const n = ++counter;
  return {
    accountId,
    name: `Campaign ${n}`,
    from: 'news@brand.example',
    subject: `Spring news ${n}`,
    html: '<p>Hello</p>',
    text: 'Hello',
    recipients: [1, 2, 3].map((i) => `reader${i}@c${n}.example`),
    ...overrides,
  };
}

export const CREATE_CAMPAIGN = `mutation($input: CreateCampaignInput!) { createCampaign(input: $input) { ${CAMPAIGN_FIELDS} } }`;

/** A DRAFT campaign created through the real GraphQL API. */
export async function newCampaign(t: TestApp, accountId: string, overrides: Record<string, unknown> = {}, token?: string): Promise<CampaignView> {
  return (await t.gqlOk<{ createCampaign: CampaignView }>(CREATE_CAMPAIGN, { input: campaignInput(accountId, overrides) }, token)).createCampaign;
}

export type CampaignAction = 'startCampaign' | 'pauseCampaign' | 'resumeCampaign' | 'campaign';

/** The mutation (or the `campaign` query) on one id. */
export const campaignOperation = (action: CampaignAction): string =>
  `${action === 'campaign' ? 'query' : 'mutation'}($id: ID!) { ${action}(id: $id) { ${CAMPAIGN_FIELDS} } }`;

export async function campaignAct(t: TestApp, action: CampaignAction, id: string, token?: string): Promise<CampaignView> {
  const data = await t.gqlOk<Record<CampaignAction, CampaignView>>(campaignOperation(action), { id }, token);
  return data[action];
}
