import { TransportKind, WebhookStatus } from '../../providers/provider.enums';
import type { DeliveryErrorCode } from '../../providers/provider.enums';
import type { DeliveryServerView, StoredTestResult } from './delivery-server.entity';
import type { DeliveryServerModel, ServerTestResultModel, SmtpStepEnum } from './delivery-server.model';

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
      url: shownWebhookText(e.webhook?.status, e.webhook?.url),
      events: e.webhook?.events ?? [],
      error: shownWebhookText(e.webhook?.status, e.webhook?.error),
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
 * NOT_SUPPORTED error quotes that URL). Its owner sees the secret only when they must paste the
 * URL into the dashboard themselves (NOT_SUPPORTED); otherwise it shows as `secret=****`.
 */
function shownWebhookText(status: WebhookStatus | undefined, text: string | null | undefined): string | null {
  if (text === null || text === undefined) return null;
  return status === WebhookStatus.NOT_SUPPORTED ? text : text.replace(/([?&]secret=)[^&#\s)"'<>]*/gi, '$1****');
}

/**
 * A server as a viewer sees it that routes through it but does not manage it (ServerVisibility):
 * what explains routing (name, provider, status, domain, forced From, quota, pause, defaults), and
 * none of its connection settings, test results, webhook URL (Elastic Email's carries a secret)
 * or pause reason. Its owner and assignments are hidden by their own resolvers.
 */
export function toSharedServerModel(e: DeliveryServerView): DeliveryServerModel {
  const full = toDeliveryServerModel(e);
  return {
    ...full,
    pausedReason: null,
    testEmail: null,
    api: null,
    smtp: null,
    ipPool: null,
    lastTest: null,
    webhook: { status: full.webhook.status, url: null, events: [], error: null, registeredAt: null },
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
