import { TransportKind, WebhookStatus } from '../../providers/provider.enums';
import type { DeliveryErrorCode } from '../../providers/provider.enums';
import type { DeliveryServerView, StoredTestResult } from './delivery-server.entity';
import type { DeliveryServerModel, ServerTestResultModel, SmtpStepEnum, WebhookRegistrationModel } from './delivery-server.model';
import { MASKED_SECRET, maskWebhookSecret, unmaskWebhookSecret } from './server-vault';

/** The one place that decides what the API shows of a server: summaries and hints, never a secret. */
export function toDeliveryServerModel(e: DeliveryServerView): DeliveryServerModel {
  const summary = e.credentialSummary;
  const model: DeliveryServerModel = {
    id: e.id,
    accountId: e.accountId,
    name: e.name,
    provider: e.provider,
    origin: e.origin,
    status: e.status,
    pausedReason: e.pausedReason,
    sendingDomain: e.sendingDomain,
    senderAddress: e.senderAddress,
    testEmail: e.testEmail,
    transports: [...(summary.api ? [TransportKind.API] : []), ...(summary.smtp ? [TransportKind.SMTP] : [])],
    api: summary.api ?? null,
    smtp: summary.smtp ?? null,
    ipPool: e.ipPool,
    quota: { hourly: e.quotaHourly, daily: e.quotaDaily, monthly: e.quotaMonthly },
    pauseMs: e.pauseMs,
    isDefaultForAccount: e.isDefaultForAccount,
    isDefaultForSubAccounts: e.isDefaultForSubAccounts,
    lastTest: null,
    verifiedAt: e.verifiedAt,
    webhook: {
      status: e.webhook?.status ?? WebhookStatus.PENDING,
      url: maskWebhookSecret(e.webhook?.url ?? null),
      events: e.webhook?.events ?? [],
      error: maskWebhookSecret(e.webhook?.error ?? null),
      registeredAt: e.webhook?.registeredAt ? new Date(e.webhook.registeredAt) : null,
    },
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
  };
  model.lastTest = e.lastTest ? toTestResultModel(e.lastTest, model) : null;
  return model;
}

/**
 * Elastic Email's webhook URL carries the secret that authenticates its notifications (and the
 * NOT_SUPPORTED error quotes that URL): the model shows it as `secret=****` (and `webhook` stores
 * it so). Its owner sees the secret only when they must paste the URL into the dashboard
 * themselves (NOT_SUPPORTED): then the resolver reads it from the sealed webhook state and puts it
 * back (needsWebhookSecret, withWebhookSecret).
 */
export function needsWebhookSecret(webhook: WebhookRegistrationModel): boolean {
  const masked = `secret=${MASKED_SECRET}`;
  return webhook.status === WebhookStatus.NOT_SUPPORTED && Boolean(webhook.url?.includes(masked) || webhook.error?.includes(masked));
}

/** The webhook of a server its viewer manages, with the URL secret to paste (see needsWebhookSecret). */
export function withWebhookSecret(webhook: WebhookRegistrationModel, secret: string | null): WebhookRegistrationModel {
  if (!secret || !needsWebhookSecret(webhook)) return webhook;
  return { ...webhook, url: unmaskWebhookSecret(webhook.url, secret), error: unmaskWebhookSecret(webhook.error, secret) };
}

/**
 * A server as a viewer sees it that routes through it but does not manage it (ServerVisibility):
 * what explains routing (name, provider, status, domain, forced From, quota, pause, defaults), and
 * none of its connection settings, test results, webhook URL (Elastic Email's carries a secret)
 * or pause reason. Its owner and assignments are hidden by their own resolvers.
 */
export function toSharedServerModel(e: DeliveryServerView): DeliveryServerModel {
  return withoutOwnerOnlyFields(toDeliveryServerModel(e));
}

/** The owner-only fields of a server emptied (shared with the mock server, so both hide the same). */
export function withoutOwnerOnlyFields<S extends { webhook: { status: unknown } }>(full: S): S {
  return {
    ...full,
    pausedReason: null,
    testEmail: null,
    api: null,
    smtp: null,
    ipPool: null,
    lastTest: null,
    // Built anew, not spread: nothing else the stored registration holds comes along.
    webhook: { status: full.webhook.status, url: null, events: [], error: null, registeredAt: null } as unknown as S['webhook'],
  };
}

export function toTestResultModel(t: StoredTestResult, server: DeliveryServerModel): ServerTestResultModel {
  return {
    server,
    ok: t.ok,
    to: t.to,
    transport: t.transport,
    messageId: t.messageId,
    durationMs: t.durationMs,
    error: t.error
      ? {
          code: t.error.code as DeliveryErrorCode,
          message: t.error.message,
          transport: t.error.transport,
          smtpResponseCode: t.error.smtpResponseCode,
          providerStatus: t.error.providerStatus,
          smtpStep: t.error.step as SmtpStepEnum | null,
        }
      : null,
    testedAt: new Date(t.testedAt),
  };
}
