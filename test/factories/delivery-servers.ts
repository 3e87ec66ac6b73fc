import type { TestApp } from '../utils/create-test-app';

export const SERVER_FIELDS = `id name provider origin status pausedReason sendingDomain senderAddress testEmail transports
  api { keyHint region } smtp { host port security username } ipPool quota { hourly daily monthly } pauseMs
  isDefaultForAccount isDefaultForSubAccounts verifiedAt createdAt updatedAt
  account { id } assignedAccounts { id }
  webhook { status url events error registeredAt }
  lastTest { ok to transport messageId durationMs testedAt error { code message transport smtpResponseCode providerStatus smtpStep } }`;

export interface ServerView {
  id: string;
  name: string;
  provider: string;
  origin: string;
  status: string;
  pausedReason: string | null;
  sendingDomain: string | null;
  senderAddress: string | null;
  testEmail: string | null;
  transports: string[];
  api: { keyHint: string; region: string | null } | null;
  smtp: { host: string; port: number; security: string; username: string | null } | null;
  ipPool: string | null;
  quota: { hourly: number | null; daily: number | null; monthly: number | null };
  pauseMs: number;
  isDefaultForAccount: boolean;
  isDefaultForSubAccounts: boolean;
  verifiedAt: string | null;
  account: { id: string } | null;
  assignedAccounts: { id: string }[];
  webhook: { status: string; url: string | null; events: string[]; error: string | null; registeredAt: string | null };
  lastTest: TestView | null;
}

export interface TestView {
  ok: boolean;
  to: string;
  transport: string | null;
  messageId: string | null;
  durationMs: number;
  testedAt: string;
  error: { code: string; message: string; transport: string | null; smtpResponseCode: number | null; providerStatus: number | null; smtpStep: string | null } | null;
}

export const SINK_USER = { user: 'sink-user', pass: 'sink-password-123' };

/** An SMTP delivery server pointed at a local SmtpSink (plain SMTP, AUTH with SINK_USER). */
export function smtpServerInput(accountId: string | null, port: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    accountId,
    name: 'Office relay',
    provider: 'SMTP',
    credentials: { smtp: { host: '127.0.0.1', port, security: 'NONE', username: SINK_USER.user, password: SINK_USER.pass } },
    ...overrides,
  };
}

export async function createServer(t: TestApp, input: Record<string, unknown>, token?: string): Promise<ServerView> {
  const data = await t.gqlOk<{ createDeliveryServer: ServerView }>(
    `mutation($input: CreateDeliveryServerInput!) { createDeliveryServer(input: $input) { ${SERVER_FIELDS} } }`,
    { input },
    token,
  );
  return data.createDeliveryServer;
}

/** Sends a test email (must pass) and activates the server. */
export async function verifyAndActivate(t: TestApp, id: string, to = 'ops@example.com'): Promise<ServerView> {
  const test = await t.gqlOk<{ testSmtpServer: TestView }>(`mutation($id: ID!, $to: String) { testSmtpServer(id: $id, to: $to) { ok error { message } } }`, { id, to });
  if (!test.testSmtpServer.ok) throw new Error(`test failed: ${JSON.stringify(test.testSmtpServer)}`);
  const data = await t.gqlOk<{ activateDeliveryServer: ServerView }>(`mutation($id: ID!) { activateDeliveryServer(id: $id) { ${SERVER_FIELDS} } }`, { id });
  return data.activateDeliveryServer;
}
