import { DateTime } from 'luxon';
import type { DeliveryServerEntity } from '../delivery-servers/delivery-server.entity';
import { DeliveryServerStatus, ServerOrigin } from '../delivery-servers/delivery-server.entity';

export enum RouteVia {
  ASSIGNED = 'ASSIGNED',
  ACCOUNT_DEFAULT = 'ACCOUNT_DEFAULT',
  AGENCY_DEFAULT = 'AGENCY_DEFAULT',
  ACCOUNT_SERVER = 'ACCOUNT_SERVER',
  PLATFORM = 'PLATFORM',
}
const VIA_ORDER = [RouteVia.ASSIGNED, RouteVia.ACCOUNT_DEFAULT, RouteVia.AGENCY_DEFAULT, RouteVia.ACCOUNT_SERVER, RouteVia.PLATFORM];

export interface RoutingAccount {
  id: string;
  parentId: string | null;
  /** The CUSTOM_SMTP add-on in force for the account's own servers (its add-ons or its agency's). */
  customSmtpEnabled: boolean;
  /**
   * The same for its agency's servers (the agency's own add-ons): a custom SMTP routes mail only
   * while its owner has the add-on (CONTRACT §4), whoever sends through it.
   */
  agencyCustomSmtpEnabled: boolean;
}

export interface RankedCandidate {
  server: DeliveryServerEntity;
  rank: number;
  via: RouteVia;
  /** Static rules: ACTIVE, sending domain, add-on. */
  allowed: boolean;
  /** Which static rule keeps it out, if any. */
  blocker: 'PAUSED' | 'DOMAIN' | 'ADDON' | null;
  /** Why not allowed, or why it is full; null when it can take mail now. */
  reason: string | null;
}

/** Which rank a server holds for this account, or null when it is not a candidate at all. */
function viaOf(server: DeliveryServerEntity, account: RoutingAccount, assigned: ReadonlySet<string>): RouteVia | null {
  if (assigned.has(server.id) && server.accountId === account.parentId) return RouteVia.ASSIGNED;
  if (server.accountId === account.id) return server.isDefaultForAccount ? RouteVia.ACCOUNT_DEFAULT : RouteVia.ACCOUNT_SERVER;
  if (account.parentId && server.accountId === account.parentId && server.isDefaultForSubAccounts) return RouteVia.AGENCY_DEFAULT;
  if (server.accountId === null) return RouteVia.PLATFORM;
  return null;
}

/**
 * Orders the candidate servers for one From, best first: ASSIGNED > ACCOUNT_DEFAULT >
 * AGENCY_DEFAULT > ACCOUNT_SERVER > PLATFORM; within a rank, a server pinned to the From's domain
 * before an any-domain one, then oldest first (stable, predictable).
 */
export function rankCandidates(servers: DeliveryServerEntity[], account: RoutingAccount, assigned: ReadonlySet<string>, fromDomain: string): RankedCandidate[] {
  const ranked = servers
    .map((server) => ({ server, via: viaOf(server, account, assigned) }))
    .filter((c): c is { server: DeliveryServerEntity; via: RouteVia } => c.via !== null)
    .sort(
      (a, b) =>
        VIA_ORDER.indexOf(a.via) - VIA_ORDER.indexOf(b.via) ||
        Number(b.server.sendingDomain === fromDomain) - Number(a.server.sendingDomain === fromDomain) ||
        a.server.createdAt.getTime() - b.server.createdAt.getTime() ||
        a.server.id.localeCompare(b.server.id),
    );
  return ranked.map(({ server, via }, i) => {
    const { blocker, reason } = staticCheck(server, account, fromDomain);
    return { server, via, rank: i + 1, allowed: blocker === null, blocker, reason };
  });
}

function staticCheck(server: DeliveryServerEntity, account: RoutingAccount, fromDomain: string): Pick<RankedCandidate, 'blocker' | 'reason'> {
  if (server.status !== DeliveryServerStatus.ACTIVE) {
    // Why a server is paused is its owner's to see: an agency's or the platform's reason (a
    // complaint pause quotes the traffic of every account sending through it) stays with them,
    // as it does on the shared server model; the reason travels on to routePreview, sendEmail's
    // NO_ROUTE and a campaign's pauseReason.
    const own = server.accountId === account.id && server.pausedReason;
    return { blocker: 'PAUSED', reason: own ? `paused: ${server.pausedReason}` : 'paused' };
  }
  if (server.sendingDomain && server.sendingDomain !== fromDomain) return { blocker: 'DOMAIN', reason: `sends only for ${server.sendingDomain}` };
  if (server.origin === ServerOrigin.CUSTOM_SMTP) {
    const agencys = server.accountId !== account.id && server.accountId === account.parentId;
    if (agencys && !account.agencyCustomSmtpEnabled) return { blocker: 'ADDON', reason: 'the Custom SMTP add-on is off for the agency that owns it' };
    if (!agencys && !account.customSmtpEnabled) return { blocker: 'ADDON', reason: 'the Custom SMTP add-on is off for this account' };
  }
  return { blocker: null, reason: null };
}

/** "hourly quota full until 14:30 Asia/Kolkata" (with the date when it is not today there). */
export function describeBlock(block: { window: string; resetsAt: Date }, timezone: string, now = new Date()): string {
  return `${block.window.toLowerCase()} quota full until ${describeTime(block.resetsAt, timezone, now)}`;
}

/** "14:30 Asia/Kolkata", or "24 Nov 00:00 Asia/Kolkata" when it is not today in that zone. */
export function describeTime(at: Date, timezone: string, now = new Date()): string {
  const local = DateTime.fromJSDate(at).setZone(timezone);
  const today = DateTime.fromJSDate(now).setZone(timezone).hasSame(local, 'day');
  return `${local.toFormat(today ? 'HH:mm' : 'd LLL HH:mm')} ${timezone}`;
}
