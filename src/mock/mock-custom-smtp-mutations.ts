import type { MockContext } from './mock-auth';
import { apiSummary, smtpSummary, type ApiKeyCredentialsInput, type SmtpCredentialsInput } from './mock-credentials';
import { effectiveAddons } from './mock-derived';
import { badInput, badInputs, conflict, forbidden } from './mock-errors';
import type { ServerRecord } from './mock-records';
import type { MockResolverMap } from './mock-resolver-map';
import { serverRecord } from './mock-server-defaults';
import type { MockState } from './mock-state';
import { email, InputChecks, name } from './mock-validation';

interface AddCustomSmtpInput {
  accountId: string;
  provider: 'SPARKPOST' | 'SENDGRID' | 'SMTP';
  name?: string | null;
  email: string;
  api?: ApiKeyCredentialsInput | null;
  smtp?: SmtpCredentialsInput | null;
  ipPool?: string | null;
}

const LABEL: Record<AddCustomSmtpInput['provider'], string> = { SPARKPOST: 'SparkPost', SENDGRID: 'SendGrid', SMTP: 'SMTP' };
const REGIONS: Record<AddCustomSmtpInput['provider'], string[] | undefined> = { SPARKPOST: ['US', 'EU'], SENDGRID: ['GLOBAL', 'EU'], SMTP: undefined };

/** Custom SMTP (a paid add-on), and the defaults and assignments that apply to any server an account owns. */
export function customSmtpMutations(state: MockState): MockResolverMap {
  const viewer = (ctx: MockContext) => state.viewerOf(ctx);
  const owned = (ctx: MockContext, id: string): ServerRecord => {
    const server = state.server(viewer(ctx), id);
    if (!server.accountId) throw badInput('id', 'names a platform server: defaults and assignments apply to servers an account owns');
    return server;
  };
  return {
    Mutation: {
      addCustomSmtp: (_: unknown, { input }: { input: AddCustomSmtpInput }, ctx: MockContext) => {
        if (!input.api && !input.smtp) throw badInputs('Give api or smtp credentials (or both)', ['api', 'smtp']);
        const checks = new InputChecks();
        const address = checks.run(() => email('email', input.email), '');
        const serverName = input.name == null ? null : checks.run(() => name('name', input.name as string), null);
        if (input.provider === 'SMTP' && input.api) checks.report('api', 'does not apply to a custom SMTP server; give smtp');
        if (input.ipPool && input.provider !== 'SPARKPOST') checks.report('ipPool', 'applies only to SPARKPOST');
        const api =
          input.api && input.provider !== 'SMTP' ? checks.run(() => apiSummary('api', 'apiKey', (input.api as ApiKeyCredentialsInput).apiKey, input.api?.region, REGIONS[input.provider]), null) : null;
        const smtp = input.smtp ? checks.run(() => smtpSummary('smtp', input.smtp as SmtpCredentialsInput), null) : null;
        checks.done();
        const account = state.account(viewer(ctx), input.accountId);
        if (!effectiveAddons(state, account).includes('CUSTOM_SMTP')) throw forbidden('Custom SMTP is a paid add-on: enable the CUSTOM_SMTP add-on for this account or its agency first');
        const sendingDomain = address.split('@')[1];
        if (state.data.servers.some((s) => s.accountId === account.id && s.origin === 'CUSTOM_SMTP' && s.sendingDomain === sendingDomain)) {
          throw conflict(`${account.name} already has a custom SMTP for ${sendingDomain}: one per sending domain`);
        }
        // The real API checks the credentials and the sender with the provider first; the mock's providers accept them.
        const now = state.nowIso();
        const id = state.id();
        const server = serverRecord(
          id,
          {
            accountId: account.id,
            name: serverName ?? `${LABEL[input.provider]} ${address}`,
            provider: input.provider,
            origin: 'CUSTOM_SMTP',
            sendingDomain,
            testEmail: address,
            api,
            smtp,
            ipPool: input.ipPool ?? null,
          },
          now,
          now,
        );
        server.lastTest = { serverId: id, ok: true, to: address, transport: api ? 'API' : 'SMTP', messageId: null, durationMs: 640, error: null, testedAt: now };
        state.data.servers.push(server);
        return server;
      },
      setDefaultSmtp: (_: unknown, args: { id: string; scope: 'ACCOUNT' | 'SUB_ACCOUNTS' }, ctx: MockContext) => {
        const server = owned(ctx, args.id);
        const flag = args.scope === 'ACCOUNT' ? 'isDefaultForAccount' : 'isDefaultForSubAccounts';
        if (flag === 'isDefaultForSubAccounts' && state.accountById(server.accountId)?.parentId) throw badInput('scope', 'SUB_ACCOUNTS applies only to servers of an agency');
        // One default per owner, scope and sending domain: the previous one loses its flag.
        for (const other of state.data.servers) if (other.accountId === server.accountId && other.sendingDomain === server.sendingDomain) other[flag] = false;
        server[flag] = true;
        server.updatedAt = state.nowIso();
        return server;
      },
      unsetDefaultSmtp: (_: unknown, args: { id: string; scope: 'ACCOUNT' | 'SUB_ACCOUNTS' }, ctx: MockContext) => {
        const server = owned(ctx, args.id);
        server[args.scope === 'ACCOUNT' ? 'isDefaultForAccount' : 'isDefaultForSubAccounts'] = false;
        server.updatedAt = state.nowIso();
        return server;
      },
      assignSmtpAccounts: (_: unknown, args: { id: string; accountIds: string[] }, ctx: MockContext) => {
        const server = owned(ctx, args.id);
        const owner = state.accountById(server.accountId);
        if (owner?.parentId) throw badInput('id', "names a sub-account's server: only an agency's servers are assigned to its sub-accounts");
        const strangers = args.accountIds.filter((id) => state.accountById(id)?.parentId !== server.accountId);
        if (strangers.length) throw badInput('accountIds', `must be sub-accounts of ${owner?.name ?? 'the owner'}: ${strangers.join(', ')} is not`);
        server.assignedAccountIds = [...new Set(args.accountIds)];
        server.updatedAt = state.nowIso();
        return server;
      },
    },
  };
}
