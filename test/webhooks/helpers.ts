import { randomBytes, randomUUID } from 'node:crypto';
import type { SendGridFake } from '../fakes/sendgrid-fake';
import type { WebhookHarness } from './webhook-harness';

/** A new X-Message-Id as SendGrid answers a send (the provider message id SendGrid events refer to). */
export const xMessageId = (): string => randomBytes(11).toString('base64url');

/** A SendGrid event of `type` for the message `sgId` to `email`, as SendGrid posts it. */
export const sendGridEvent = (type: string, sgId: string, email: string, extra: Record<string, unknown> = {}) => ({
  email,
  timestamp: Math.floor(Date.now() / 1000),
  event: type,
  sg_event_id: randomUUID(),
  sg_message_id: `${sgId}.filterdrecv-5645d9c87f-6wq9k-1-5F2C1F0A-2.0`,
  ...extra,
});

/** The id of the webhook the SendGrid fake holds for `url` (a server's webhook URL), whose key signs posts. */
export function sendGridHookId(fake: SendGridFake, url: string | null | undefined): string {
  const hook = [...fake.webhooks.values()].find((w) => w.url === url);
  if (!hook) throw new Error('no webhook registered at the fake');
  return hook.id;
}

/** What `sendGridServer` created: a SendGrid server of a new agency, with its webhook at the fake. */
export interface SendGridServer {
  accountId: string;
  serverId: string;
  webhookStatus: string;
  webhookId: string;
  path: string;
}

/** Creates a SendGrid server through the app and finds the webhook it registered at the fake. */
export async function sendGridServer(h: WebhookHarness, fake: SendGridFake): Promise<SendGridServer> {
  const created = await h.server({ provider: 'SENDGRID', credentials: { sendgrid: { apiKey: 'SG.test-key' } } });
  const serverId = created.server.id;
  return {
    accountId: created.accountId,
    serverId,
    webhookStatus: created.server.webhook.status,
    webhookId: sendGridHookId(fake, created.server.webhook.url),
    path: `/webhooks/sendgrid/${serverId}`,
  };
}
