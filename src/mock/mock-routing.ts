import { withoutOwnerOnlyFields } from '../modules/delivery-servers/delivery-servers.mapper';
import type { MockViewer } from './mock-auth';
import { effectiveAddons } from './mock-derived';
import type { AccountRecord, ServerRecord } from './mock-records';
import type { MockState } from './mock-state';

type RouteVia = 'ASSIGNED' | 'ACCOUNT_DEFAULT' | 'AGENCY_DEFAULT' | 'ACCOUNT_SERVER' | 'PLATFORM';

export interface RouteCandidate {
  server: ServerRecord;
  rank: number;
  via: RouteVia;
  eligible: boolean;
  reason: string | null;
}

export interface RouteDecision {
  from: string;
  effectiveFrom: string | null;
  server: ServerRecord | null;
  code: 'NO_ROUTE' | null;
  reason: string;
  candidates: RouteCandidate[];
  onQuotaExhausted: string;
  waitUntil: string | null;
}

/**
 * A server as a viewer sees it who routes through it without managing it (an agency's server
 * seen by its sub-account, a platform server): no connection settings, tests or webhook URL.
 */
export function visibleServer(state: MockState, viewer: MockViewer, server: ServerRecord): ServerRecord {
  return state.manages(viewer, server) ? server : withoutOwnerOnlyFields(server);
}

/**
 * The contract's routing order, best first: servers ASSIGNED to the account, its own default,
 * its agency's default for sub-accounts, its other servers, platform servers. Eligible: ACTIVE,
 * on the From's domain (or any domain), and for a custom SMTP the add-on in force.
 */
export function routeDecision(state: MockState, viewer: MockViewer, account: AccountRecord, from: string): RouteDecision {
  const domain = from.split('@')[1];
  const servers = state.data.servers;
  const groups: [RouteVia, ServerRecord[]][] = [
    ['ASSIGNED', servers.filter((s) => s.accountId === account.parentId && s.assignedAccountIds.includes(account.id))],
    ['ACCOUNT_DEFAULT', servers.filter((s) => s.accountId === account.id && s.isDefaultForAccount)],
    ['AGENCY_DEFAULT', servers.filter((s) => account.parentId !== null && s.accountId === account.parentId && s.isDefaultForSubAccounts)],
    ['ACCOUNT_SERVER', servers.filter((s) => s.accountId === account.id)],
    ['PLATFORM', servers.filter((s) => s.accountId === null)],
  ];
  const addons = effectiveAddons(state, account);
  const seen = new Set<string>();
  const candidates: RouteCandidate[] = [];
  for (const [via, group] of groups) {
    for (const server of group) {
      if (seen.has(server.id)) continue;
      seen.add(server.id);
      const reason = ineligibility(server, domain, addons);
      candidates.push({ server: visibleServer(state, viewer, server), rank: candidates.length + 1, via, eligible: reason === null, reason });
    }
  }
  const chosen = candidates.find((c) => c.eligible);
  return {
    from,
    effectiveFrom: chosen ? (chosen.server.senderAddress ?? from) : null,
    server: chosen?.server ?? null,
    code: chosen ? null : 'NO_ROUTE',
    reason: chosen ? `Routes to ${chosen.server.name} (${chosen.via})` : `No eligible delivery server can send from ${domain}${candidates.length ? '' : ': the account has none'}`,
    candidates,
    onQuotaExhausted: account.onQuotaExhausted,
    waitUntil: null,
  };
}

function ineligibility(server: ServerRecord, domain: string, addons: string[]): string | null {
  if (server.status !== 'ACTIVE') return 'The server is paused';
  if (server.sendingDomain !== null && server.sendingDomain !== domain) return `The server sends only from ${server.sendingDomain}`;
  if (server.origin === 'CUSTOM_SMTP' && !addons.includes('CUSTOM_SMTP')) return 'The CUSTOM_SMTP add-on is not enabled for the account or its agency';
  return null;
}
