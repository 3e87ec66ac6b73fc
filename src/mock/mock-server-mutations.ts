import type { MockContext } from './mock-auth';
import { credentialSummary, type ServerCredentialsInput } from './mock-credentials';
import { badInput, domainError } from './mock-errors';
import { hexFrom } from './mock-ids';
import type { DeliveryProvider, QuotaRecord, ServerRecord, TransportKind } from './mock-records';
import type { MockResolverMap } from './mock-resolver-map';
import { serverRecord, transportsOf, webhookFor } from './mock-server-defaults';
import type { MockState } from './mock-state';
import { domain, email, InputChecks, name, nonNegative } from './mock-validation';

interface ServerSettingsInput {
  name?: string | null;
  credentials?: ServerCredentialsInput | null;
  senderAddress?: string | null;
  sendingDomain?: string | null;
  quota?: Partial<QuotaRecord> | null;
  pauseMs?: number | null;
  ipPool?: string | null;
}

interface CreateDeliveryServerInput extends ServerSettingsInput {
  accountId?: string | null;
  name: string;
  provider: DeliveryProvider;
  credentials: ServerCredentialsInput;
}

export const CREDENTIALS_CHANGED = 'Credentials changed: send a passing test (testSmtpServer) to verify the server again';

/**
 * The settings both create and update take, checked together. A key left out is unchanged;
 * an explicit null clears a nullable setting (senderAddress, sendingDomain, ipPool, a quota limit).
 */
function applySettings(server: ServerRecord, input: ServerSettingsInput, checks: InputChecks): void {
  if ('name' in input) server.name = checks.run(() => name('name', input.name ?? ''), server.name);
  if (input.senderAddress !== undefined) server.senderAddress = input.senderAddress === null ? null : checks.run(() => email('senderAddress', input.senderAddress as string), null);
  if (input.sendingDomain !== undefined) {
    if (server.origin === 'CUSTOM_SMTP') checks.report('sendingDomain', "of a custom SMTP is its email's domain and cannot change (add another custom SMTP instead)");
    else server.sendingDomain = input.sendingDomain === null ? null : checks.run(() => domain('sendingDomain', input.sendingDomain as string), null);
  }
  if (input.pauseMs !== undefined) server.pauseMs = input.pauseMs === null ? 0 : checks.run(() => nonNegative('pauseMs', input.pauseMs as number), 0);
  if (input.ipPool !== undefined) {
    if (input.ipPool !== null && server.provider !== 'SPARKPOST') checks.report('ipPool', 'applies only to SPARKPOST servers');
    server.ipPool = input.ipPool?.trim() || null;
  }
  for (const window of ['hourly', 'daily', 'monthly'] as const) {
    const limit = input.quota?.[window];
    if (limit !== undefined) server.quota[window] = limit === null ? null : checks.run(() => nonNegative(`quota.${window}`, limit), null);
  }
  if (input.credentials) {
    Object.assign(server, credentialSummary(server.provider, input.credentials, checks));
  }
}

/** Delivery servers: nothing reaches a provider; tests pass and webhooks register at once. */
export function serverMutations(state: MockState): MockResolverMap {
  const viewer = (ctx: MockContext) => state.viewerOf(ctx);
  const touch = (server: ServerRecord): ServerRecord => {
    server.updatedAt = state.nowIso();
    return server;
  };
  return {
    Mutation: {
      createDeliveryServer: (_: unknown, { input }: { input: CreateDeliveryServerInput }, ctx: MockContext) => {
        const v = viewer(ctx);
        const id = state.id();
        const server = serverRecord(id, { accountId: input.accountId ?? null, name: input.name, provider: input.provider, status: 'PAUSED' }, state.nowIso(), null);
        const checks = new InputChecks();
        applySettings(server, input, checks);
        checks.done();
        if (input.accountId) state.account(v, input.accountId);
        else state.requireAdmin(v, 'Only an ADMIN can create platform servers; give accountId');
        // Saved PAUSED and unverified: a passing testSmtpServer, then activateDeliveryServer.
        server.webhook = webhookFor(id, server.provider, state.nowIso());
        state.data.servers.push(server);
        return server;
      },
      updateDeliveryServer: (_: unknown, { id, input }: { id: string; input: ServerSettingsInput }, ctx: MockContext) => {
        const server = state.server(viewer(ctx), id);
        const draft: ServerRecord = { ...server, quota: { ...server.quota } };
        const checks = new InputChecks();
        applySettings(draft, input, checks);
        checks.done();
        if (input.credentials) {
          // Changed credentials are unverified: the server pauses until a test passes again.
          draft.verifiedAt = null;
          if (draft.status === 'ACTIVE') draft.pausedReason = CREDENTIALS_CHANGED;
          draft.status = 'PAUSED';
        }
        return touch(Object.assign(server, draft));
      },
      activateDeliveryServer: (_: unknown, { id }: { id: string }, ctx: MockContext) => {
        const server = state.server(viewer(ctx), id);
        if (!server.verifiedAt) throw domainError('SERVER_NOT_VERIFIED', `Delivery server ${server.name} is not verified: send a passing test (testSmtpServer) first`);
        return touch(Object.assign(server, { status: 'ACTIVE', pausedReason: null }));
      },
      pauseDeliveryServer: (_: unknown, { id }: { id: string }, ctx: MockContext) => touch(Object.assign(state.server(viewer(ctx), id), { status: 'PAUSED', pausedReason: null })),
      deleteDeliveryServer: (_: unknown, { id }: { id: string }, ctx: MockContext) => {
        const server = state.server(viewer(ctx), id);
        state.data.servers = state.data.servers.filter((s) => s !== server);
        return true;
      },
      testSmtpServer: (_: unknown, args: { id: string; to?: string | null; transport?: TransportKind | null }, ctx: MockContext) => {
        const server = state.server(viewer(ctx), args.id);
        const to = args.to ? email('to', args.to) : (server.testEmail ?? server.senderAddress);
        if (!to) throw badInput('to', 'is required: the server has neither a testEmail nor a senderAddress');
        if (args.transport && !transportsOf(server).includes(args.transport)) throw badInput('transport', `is not configured on ${server.name}`);
        const testedAt = state.nowIso();
        const transport = args.transport ?? (server.api ? 'API' : 'SMTP');
        // The mock's providers accept every test: the result is a pass, and the server is verified.
        server.lastTest = { serverId: server.id, ok: true, to, transport, messageId: `<test-${hexFrom(testedAt + server.id, 16)}@mailroute.example>`, durationMs: 420, error: null, testedAt };
        server.verifiedAt = testedAt;
        touch(server);
        return server.lastTest;
      },
      registerWebhooks: (_: unknown, { id }: { id: string }, ctx: MockContext) => {
        const server = state.server(viewer(ctx), id);
        server.webhook = webhookFor(server.id, server.provider, state.nowIso());
        return touch(server);
      },
    },
  };
}
