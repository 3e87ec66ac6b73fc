import { buildMessage, type MessageSpec } from './mock-message-builder';
import { DAY, HOUR, iso, MINUTE } from './mock-ids';
import type { AccountRecord, CampaignRecord, MessageStatus, MockData, ServerRecord } from './mock-records';
import { serverRecord } from './mock-server-defaults';

/** The accounts the auth rule hands to ACCOUNT tokens (mock-auth.ts). */
export interface SeededRoles {
  agencyId: string;
  subAccountId: string;
}

const PEOPLE = ['jane.doe@example.com', 'max.mustermann@example.de', 'priya.shah@example.in', 'li.wei@example.cn', 'tom.baker@example.org', 'sara.lopez@example.es'];
const SUBJECTS = ['Welcome to Acme', 'Your invoice #1042', 'Reset your password', 'Your weekly report', 'Your order has shipped', 'Action needed: confirm your email'];

/**
 * A small agency with two sub-accounts, and a second agency only ADMIN reaches. Every time is
 * relative to `now`; every id comes from `newId` in this order, so a seed gives the same ids.
 */
export function seedMockData(newId: () => string, now: number): { data: MockData; roles: SeededRoles } {
  const account = (name: string, timezone: string, parent: AccountRecord | null, daysAgo: number, extra: Partial<AccountRecord> = {}): AccountRecord => ({
    id: newId(),
    name,
    timezone,
    parentId: parent?.id ?? null,
    onQuotaExhausted: 'WAIT',
    addons: [],
    createdAt: iso(now - daysAgo * DAY),
    ...extra,
  });
  const acme = account('Acme Growth Agency', 'Europe/Berlin', null, 180, { addons: ['CUSTOM_SMTP'] });
  const bluebird = account('Bluebird CRM', 'America/New_York', acme, 150, { onQuotaExhausted: 'FAILOVER' });
  const lumen = account('Lumen Dental', 'Asia/Kolkata', acme, 120);
  const northwind = account('Northwind Marketing', 'Australia/Lord_Howe', null, 90);

  const server = (fields: Partial<ServerRecord> & Pick<ServerRecord, 'name' | 'provider' | 'accountId'>, createdDaysAgo: number, verifiedDaysAgo: number | null): ServerRecord => {
    const id = newId();
    const created = now - createdDaysAgo * DAY;
    const verifiedAt = verifiedDaysAgo === null ? null : iso(now - verifiedDaysAgo * DAY);
    return serverRecord(id, fields, iso(created), verifiedAt);
  };
  const ses = server(
    {
      accountId: acme.id,
      name: 'Acme SES',
      provider: 'AMAZON_SES',
      sendingDomain: 'acme.io',
      api: { keyHint: '…Q7XA', region: 'eu-west-1' },
      smtp: { host: 'email-smtp.eu-west-1.amazonaws.com', port: 587, security: 'STARTTLS', username: 'AKIAQ7XAEXAMPLE' },
      quota: { hourly: 2000, daily: 20000, monthly: 300000 },
      used: { hourly: 42, daily: 655, monthly: 9120 },
      isDefaultForAccount: true,
      isDefaultForSubAccounts: true,
    },
    170,
    20,
  );
  ses.lastTest = { serverId: ses.id, ok: true, to: 'ops@acme.io', transport: 'API', messageId: '0102019a3f2c8e11-test', durationMs: 412, error: null, testedAt: ses.verifiedAt ?? iso(now) };
  const sendgrid = server(
    {
      accountId: acme.id,
      name: 'Acme SendGrid EU',
      provider: 'SENDGRID',
      status: 'PAUSED',
      pausedReason: 'Credentials changed: send a passing test (testSmtpServer) to verify the server again',
      api: { keyHint: '…9f2K', region: 'EU' },
      quota: { hourly: null, daily: 10000, monthly: null },
      used: { hourly: 0, daily: 0, monthly: 1830 },
      pauseMs: 250,
      assignedAccountIds: [lumen.id],
    },
    100,
    null,
  );
  sendgrid.updatedAt = iso(now - 2 * DAY);
  sendgrid.lastTest = {
    serverId: sendgrid.id,
    ok: false,
    to: 'ops@acme.io',
    transport: null,
    messageId: null,
    durationMs: 183,
    error: { code: 'AUTH_FAILED', message: 'SendGrid refused the API key (401 Unauthorized)', transport: 'API', smtpResponseCode: null, smtpStep: null, providerStatus: 401 },
    testedAt: iso(now - 2 * DAY + HOUR),
  };
  const bluebirdSmtp = server(
    {
      accountId: bluebird.id,
      name: 'Bluebird mail server',
      provider: 'SMTP',
      origin: 'CUSTOM_SMTP',
      sendingDomain: 'bluebird.app',
      testEmail: 'hello@bluebird.app',
      smtp: { host: 'mail.bluebird.app', port: 465, security: 'TLS', username: 'hello@bluebird.app' },
      quota: { hourly: 500, daily: 5000, monthly: null },
      used: { hourly: 12, daily: 140, monthly: 2210 },
      pauseMs: 1000,
      isDefaultForAccount: true,
    },
    40,
    40,
  );
  bluebirdSmtp.lastTest = {
    serverId: bluebirdSmtp.id,
    ok: true,
    to: 'hello@bluebird.app',
    transport: 'SMTP',
    messageId: '<5f1c9e20@mail.bluebird.app>',
    durationMs: 1260,
    error: null,
    testedAt: iso(now - 40 * DAY),
  };
  const platform = server(
    {
      accountId: null,
      name: 'Platform Mailgun',
      provider: 'MAILGUN',
      sendingDomain: 'mailroute.example',
      api: { keyHint: '…b41e', region: 'EU' },
      smtp: { host: 'smtp.eu.mailgun.org', port: 587, security: 'STARTTLS', username: 'postmaster@mailroute.example' },
      used: { hourly: 310, daily: 4120, monthly: 88400 },
    },
    200,
    199,
  );
  const sparkpost = server(
    {
      accountId: northwind.id,
      name: 'Northwind SparkPost',
      provider: 'SPARKPOST',
      sendingDomain: 'northwind.example',
      api: { keyHint: '…e5d0', region: 'US' },
      ipPool: 'marketing',
      quota: { hourly: 1000, daily: null, monthly: 100000 },
      used: { hourly: 0, daily: 75, monthly: 3300 },
      isDefaultForAccount: true,
    },
    80,
    80,
  );

  const campaign = (
    owner: AccountRecord,
    fields: Omit<CampaignRecord, 'id' | 'accountId' | 'pauseReason' | 'pauseCode' | 'startedAt' | 'completedAt' | 'createdAt'>,
    created: number,
    extra: Partial<CampaignRecord> = {},
  ): CampaignRecord => ({
    id: newId(),
    accountId: owner.id,
    pauseReason: null,
    pauseCode: null,
    startedAt: fields.status === 'DRAFT' ? null : iso(created + HOUR),
    completedAt: null,
    createdAt: iso(created),
    ...fields,
    ...extra,
  });
  const blackFriday = campaign(acme, { name: 'Black Friday preview', from: 'news@acme.io', subject: 'Black Friday starts now: 30% off', status: 'COMPLETED', recipients: PEOPLE }, now - 12 * DAY, {
    completedAt: iso(now - 12 * DAY + HOUR + 20 * MINUTE),
  });
  const digest = campaign(
    acme,
    { name: 'December digest', from: 'news@acme.io', subject: 'What changed in December', status: 'SENDING', recipients: [...PEOPLE, 'ana.silva@example.pt', 'ole.hansen@example.no'] },
    now - 2 * HOUR,
  );
  const webinar = campaign(bluebird, { name: 'Spring webinar invite', from: 'hello@bluebird.app', subject: 'Join our spring webinar', status: 'DRAFT', recipients: PEOPLE.slice(0, 3) }, now - DAY);
  const recall = campaign(lumen, { name: 'Recall reminders', from: 'care@lumen.dental', subject: 'Time for your check-up', status: 'PAUSED', recipients: PEOPLE.slice(1, 6) }, now - 3 * DAY, {
    // Its assigned SendGrid server paused when its credentials changed; nothing else sends from lumen.dental.
    pauseCode: 'NO_ROUTE',
    pauseReason: 'No eligible delivery server can send from lumen.dental',
  });

  const messages: MessageSpec[] = [];
  const add = (owner: AccountRecord, via: ServerRecord | null, status: MessageStatus, at: number, fields: Partial<MessageSpec> & Pick<MessageSpec, 'from' | 'to'>): void => {
    messages.push({
      id: newId(),
      accountId: owner.id,
      status,
      server: status === 'SUPPRESSED' || status === 'REJECTED' ? null : via,
      subject: SUBJECTS[messages.length % SUBJECTS.length],
      createdAt: at,
      ...fields,
    });
  };
  // Acme's one-off and automated mail, newest first: enough for a few pages at first: 5.
  const acmeStatuses: MessageStatus[] = [
    'QUEUED',
    'SENDING',
    'DEFERRED',
    'SENT',
    'SUPPRESSED',
    'DELIVERED',
    'BOUNCED',
    'DELIVERED',
    'FAILED',
    'COMPLAINED',
    'DELIVERED',
    'REJECTED',
    'DELIVERED',
    'SENT',
  ];
  acmeStatuses.forEach((status, i) => {
    const to = status === 'BOUNCED' || status === 'SUPPRESSED' ? 'noone@example.net' : status === 'COMPLAINED' ? 'angry.reader@example.com' : PEOPLE[i % PEOPLE.length];
    const from = status === 'REJECTED' ? 'hello@acme-mail.com' : i % 3 === 0 ? 'billing@acme.io' : 'hello@acme.io';
    add(acme, ses, status, now - (i + 1) * 37 * MINUTE, { from, to, source: i % 4 === 1 ? 'AUTOMATION' : 'ONE_OFF' });
  });
  const campaignMail = (owner: AccountRecord, c: CampaignRecord, via: ServerRecord, statuses: MessageStatus[]): void =>
    statuses.forEach((status, i) => add(owner, via, status, Date.parse(c.startedAt ?? c.createdAt) + i * MINUTE, { campaignId: c.id, from: c.from, to: c.recipients[i], subject: c.subject }));
  campaignMail(acme, blackFriday, ses, ['DELIVERED', 'DELIVERED', 'SENT', 'DELIVERED', 'FAILED', 'DELIVERED']);
  campaignMail(acme, digest, ses, ['DELIVERED', 'SENT', 'SENDING']);
  campaignMail(lumen, recall, sendgrid, ['DELIVERED', 'DELIVERED']);
  ['SENT', 'SENT', 'FAILED', 'SENT'].forEach((status, i) =>
    add(bluebird, bluebirdSmtp, status as MessageStatus, now - (i + 1) * 2 * HOUR, { from: 'hello@bluebird.app', to: PEOPLE[(i + 2) % PEOPLE.length] }),
  );
  add(lumen, null, 'REJECTED', now - 5 * HOUR, { from: 'care@lumen.dental', to: 'priya.shah@example.in', subject: 'Your appointment is confirmed' });
  add(northwind, sparkpost, 'DELIVERED', now - 3 * HOUR, { from: 'team@northwind.example', to: 'tom.baker@example.org' });
  add(northwind, sparkpost, 'DELIVERED', now - 6 * HOUR, { from: 'team@northwind.example', to: 'li.wei@example.cn', source: 'AUTOMATION' });
  const built = messages.map(buildMessage);

  // Suppressions agree with the messages: the hard bounce and the complaint above, plus a manual one.
  const eventAt = (to: string, type: string): string => built.flatMap((m) => (m.to === to ? m.events : [])).find((e) => e.type === type)?.occurredAt ?? iso(now);
  const suppressions = [
    { accountId: acme.id, email: 'noone@example.net', reason: 'HARD_BOUNCE' as const, createdAt: eventAt('noone@example.net', 'HARD_BOUNCE') },
    { accountId: acme.id, email: 'angry.reader@example.com', reason: 'COMPLAINT' as const, createdAt: eventAt('angry.reader@example.com', 'COMPLAINT') },
    { accountId: acme.id, email: 'unsubscribed@example.com', reason: 'MANUAL' as const, createdAt: iso(now - 30 * DAY) },
    { accountId: bluebird.id, email: 'do-not-mail@example.org', reason: 'MANUAL' as const, createdAt: iso(now - 10 * DAY) },
  ];
  const token = (name: string, owner: AccountRecord | null, daysAgo: number, lastUsed: number | null) => ({
    id: newId(),
    name,
    role: owner ? ('ACCOUNT' as const) : ('ADMIN' as const),
    accountId: owner?.id ?? null,
    createdAt: iso(now - daysAgo * DAY),
    lastUsedAt: lastUsed === null ? null : iso(now - lastUsed),
    secret: null,
  });
  const tokens = [
    token('Ops bootstrap', null, 200, HOUR),
    token('Acme CRM backend', acme, 170, 5 * MINUTE),
    token('Bluebird Zapier', bluebird, 100, null),
    token('Northwind website', northwind, 80, DAY),
  ];

  return {
    data: {
      accounts: [acme, bluebird, lumen, northwind],
      servers: [ses, sendgrid, bluebirdSmtp, platform, sparkpost],
      messages: built,
      campaigns: [blackFriday, digest, webinar, recall],
      suppressions,
      tokens,
    },
    roles: { agencyId: acme.id, subAccountId: bluebird.id },
  };
}
