import { DAY, iso } from './mock-ids';
import type { AccountRecord, CampaignRecord, MessageStatus, ServerRecord } from './mock-records';
import type { MockState } from './mock-state';

/** The add-ons in force: the account's own and its agency's. */
export function effectiveAddons(state: MockState, account: AccountRecord): string[] {
  const parent = state.accountById(account.parentId);
  return [...new Set([...account.addons, ...(parent?.addons ?? [])])];
}

const STAT_OF: Record<MessageStatus, keyof CampaignStats> = {
  QUEUED: 'queued',
  SENDING: 'queued',
  DEFERRED: 'deferred',
  SENT: 'sent',
  DELIVERED: 'delivered',
  FAILED: 'failed',
  REJECTED: 'failed',
  BOUNCED: 'bounced',
  COMPLAINED: 'complained',
  SUPPRESSED: 'suppressed',
};

type CampaignStats = Record<'total' | 'queued' | 'deferred' | 'sent' | 'delivered' | 'failed' | 'bounced' | 'complained' | 'suppressed', number>;

/** Each message counted once by its status; recipients with no message yet are queued (before start, all 0 but total). */
export function campaignStats(state: MockState, campaign: CampaignRecord): CampaignStats {
  const stats: CampaignStats = { total: campaign.recipients.length, queued: 0, deferred: 0, sent: 0, delivered: 0, failed: 0, bounced: 0, complained: 0, suppressed: 0 };
  if (campaign.status === 'DRAFT') return stats;
  const messages = state.data.messages.filter((m) => m.campaignId === campaign.id);
  for (const m of messages) stats[STAT_OF[m.status]] += 1;
  stats.queued += Math.max(0, campaign.recipients.length - messages.length);
  return stats;
}

/** Local wall-clock fields of an instant in a zone (hour 0..23). */
function localFields(ms: number, timeZone: string): number[] {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(ms));
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value);
  return [get('year'), get('month'), get('day'), get('hour'), get('minute'), get('second')];
}

const offsetAt = (ms: number, timeZone: string): number => {
  const [y, mo, d, h, mi, s] = localFields(ms, timeZone);
  return Date.UTC(y, mo - 1, d, h, mi, s) - (ms - (ms % 1000));
};

/** The UTC instant of a local wall-clock time (second pass settles a DST change in between). */
const fromLocal = (local: number, timeZone: string): number => local - offsetAt(local - offsetAt(local, timeZone), timeZone);

/**
 * Quota windows on the owner's clock, as the contract defines them: the hour from the top of the
 * local hour (half-hour zones included), the day from local midnight, the month from the local 1st.
 */
export function quotaUsage(state: MockState, server: ServerRecord) {
  const timezone = state.accountById(server.accountId)?.timezone ?? 'UTC';
  const [y, mo, d, h] = localFields(state.now(), timezone);
  const window = (limit: number | null, used: number, nextLocal: number) => ({
    used,
    limit,
    remaining: limit === null ? null : Math.max(0, limit - used),
    resetsAt: iso(fromLocal(nextLocal, timezone)),
  });
  return {
    timezone,
    hourly: window(server.quota.hourly, server.used.hourly, Date.UTC(y, mo - 1, d, h + 1)),
    daily: window(server.quota.daily, server.used.daily, Date.UTC(y, mo - 1, d + 1)),
    monthly: window(server.quota.monthly, server.used.monthly, Date.UTC(y, mo, 1)),
  };
}

/** Bounce and complaint rates of the messages the server sent in the last 24 hours. */
export function reputation(state: MockState, server: ServerRecord) {
  const since = state.now() - DAY;
  const sent = state.data.messages.filter((m) => m.serverId === server.id && m.sentAt !== null && Date.parse(m.sentAt) >= since);
  const bounced = sent.filter((m) => m.events.some((e) => e.type === 'HARD_BOUNCE')).length;
  const complained = sent.filter((m) => m.status === 'COMPLAINED' || m.events.some((e) => e.type === 'COMPLAINT')).length;
  const rate = (n: number): number => (sent.length ? n / sent.length : 0);
  return { sent: sent.length, bounced, complained, bounceRate: rate(bounced), complaintRate: rate(complained), since: iso(since) };
}
