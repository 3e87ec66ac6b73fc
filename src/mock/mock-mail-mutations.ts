import type { MockContext, MockViewer } from './mock-auth';
import { badInput, badInputs, conflict, domainError } from './mock-errors';
import { buildMessage } from './mock-message-builder';
import type { CampaignRecord, MessageRecord } from './mock-records';
import type { MockResolverMap } from './mock-resolver-map';
import { routeDecision } from './mock-routing';
import type { MockState } from './mock-state';
import { email, InputChecks, name, recipients } from './mock-validation';

interface SendEmailInput {
  accountId: string;
  from?: string | null;
  to: string;
  replyTo?: string | null;
  subject: string;
  html?: string | null;
  text?: string | null;
  source?: MessageRecord['source'] | null;
  idempotencyKey?: string | null;
}

interface CreateCampaignInput {
  accountId: string;
  name: string;
  from: string;
  subject: string;
  html?: string | null;
  text?: string | null;
  recipients: string[];
}

const bodyRequired = (input: { html?: string | null; text?: string | null }): void => {
  if (!input.html && !input.text) throw badInputs('Give html or text (or both)', ['html', 'text']);
};

/** The testEmail of the first active server in the account's routing order that has one. */
function reminderFrom(state: MockState, v: MockViewer, accountId: string): string | null {
  const { candidates } = routeDecision(state, v, state.account(v, accountId), 'reminder@example.com');
  const servers = candidates.map((c) => state.serverById(c.server.id));
  return servers.find((s) => s?.status === 'ACTIVE' && s.testEmail)?.testEmail ?? null;
}

/** Sending and campaigns: routed as the worker would route them (mock-routing.ts); nothing is delivered. */
export function mailMutations(state: MockState): MockResolverMap {
  const viewer = (ctx: MockContext) => state.viewerOf(ctx);
  const campaignOf = (ctx: MockContext, id: string, expected: CampaignRecord['status'], what: string): CampaignRecord => {
    const campaign = state.campaign(viewer(ctx), id);
    if (campaign.status !== expected) throw conflict(`Campaign ${campaign.id} is ${campaign.status}: only a ${expected} campaign can ${what}`);
    return campaign;
  };
  /** Starting or resuming re-checks the route: none leaves the campaign PAUSED with the reason. */
  const launch = (v: MockViewer, campaign: CampaignRecord): CampaignRecord => {
    const account = state.account(v, campaign.accountId);
    const route = routeDecision(state, v, account, campaign.from);
    campaign.startedAt ??= state.nowIso();
    Object.assign(campaign, route.code ? { status: 'PAUSED', pauseCode: route.code, pauseReason: route.reason } : { status: 'SENDING', pauseCode: null, pauseReason: null });
    return campaign;
  };
  return {
    Mutation: {
      sendEmail: (_: unknown, { input }: { input: SendEmailInput }, ctx: MockContext) => {
        const v = viewer(ctx);
        const checks = new InputChecks();
        const to = checks.run(() => email('to', input.to), '');
        const from = input.from ? checks.run(() => email('from', input.from as string), '') : null;
        if (input.replyTo) checks.run(() => email('replyTo', input.replyTo as string), '');
        checks.run(() => bodyRequired(input), undefined);
        checks.done();
        const account = state.account(v, input.accountId);
        const previous = input.idempotencyKey && state.data.messages.find((m) => m.accountId === account.id && m.idempotencyKey === input.idempotencyKey);
        if (previous) return previous;
        const source = input.source ?? 'ONE_OFF';
        // Only a REMINDER may leave From out: it is sent from the routed server's testEmail.
        const candidateFrom = from ?? (source === 'REMINDER' ? reminderFrom(state, v, account.id) : null);
        if (!candidateFrom) throw badInput('from', 'is required (only a REMINDER may leave it out, when a server routes for the account)');
        const route = routeDecision(state, v, account, candidateFrom);
        if (route.code) throw domainError(route.code, route.reason);
        const suppressed = state.data.suppressions.some((s) => s.accountId === account.id && s.email === to);
        const message = buildMessage({
          id: state.id(),
          accountId: account.id,
          status: suppressed ? 'SUPPRESSED' : 'QUEUED',
          from: candidateFrom,
          to,
          subject: input.subject,
          server: suppressed ? null : state.serverById(route.server?.id ?? null),
          createdAt: state.now(),
          source,
          idempotencyKey: input.idempotencyKey ?? null,
        });
        state.data.messages.push(message);
        return message;
      },
      createCampaign: (_: unknown, { input }: { input: CreateCampaignInput }, ctx: MockContext) => {
        const checks = new InputChecks();
        const campaignName = checks.run(() => name('name', input.name), '');
        const from = checks.run(() => email('from', input.from), '');
        if (!input.subject.trim()) checks.report('subject', 'must not be empty');
        checks.run(() => bodyRequired(input), undefined);
        const list = checks.run(() => recipients('recipients', input.recipients), []);
        checks.done();
        const account = state.account(viewer(ctx), input.accountId);
        const campaign: CampaignRecord = {
          id: state.id(),
          accountId: account.id,
          name: campaignName,
          from,
          subject: input.subject,
          status: 'DRAFT',
          pauseReason: null,
          pauseCode: null,
          recipients: list,
          createdAt: state.nowIso(),
          startedAt: null,
          completedAt: null,
        };
        state.data.campaigns.push(campaign);
        return campaign;
      },
      addCampaignRecipients: (_: unknown, args: { id: string; recipients: string[] }, ctx: MockContext) => {
        const list = recipients('recipients', args.recipients);
        const campaign = campaignOf(ctx, args.id, 'DRAFT', 'take recipients');
        campaign.recipients = [...new Set([...campaign.recipients, ...list])];
        return campaign;
      },
      startCampaign: (_: unknown, { id }: { id: string }, ctx: MockContext) => {
        const campaign = campaignOf(ctx, id, 'DRAFT', 'start');
        if (!campaign.recipients.length) throw badInput('id', 'names a campaign without recipients: add some with addCampaignRecipients first');
        return launch(viewer(ctx), campaign);
      },
      pauseCampaign: (_: unknown, { id }: { id: string }, ctx: MockContext) => Object.assign(campaignOf(ctx, id, 'SENDING', 'be paused'), { status: 'PAUSED', pauseCode: null, pauseReason: null }),
      resumeCampaign: (_: unknown, { id }: { id: string }, ctx: MockContext) => launch(viewer(ctx), campaignOf(ctx, id, 'PAUSED', 'be resumed')),
      addSuppression: (_: unknown, args: { accountId: string; email: string }, ctx: MockContext) => {
        const address = email('email', args.email);
        const account = state.account(viewer(ctx), args.accountId);
        const existing = state.data.suppressions.find((s) => s.accountId === account.id && s.email === address);
        if (existing) return existing;
        const suppression = { accountId: account.id, email: address, reason: 'MANUAL' as const, createdAt: state.nowIso() };
        state.data.suppressions.push(suppression);
        return suppression;
      },
      removeSuppression: (_: unknown, args: { accountId: string; email: string }, ctx: MockContext) => {
        const address = email('email', args.email);
        const account = state.account(viewer(ctx), args.accountId);
        const before = state.data.suppressions.length;
        state.data.suppressions = state.data.suppressions.filter((s) => !(s.accountId === account.id && s.email === address));
        return state.data.suppressions.length < before;
      },
    },
  };
}
