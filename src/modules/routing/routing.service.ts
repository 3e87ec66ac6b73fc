import { Injectable } from '@nestjs/common';
import { DeliveryError } from '../../providers/delivery-error';
import { DeliveryErrorCode } from '../../providers/provider.enums';
import { ProviderGateway } from '../../providers/provider-gateway';
import { Addon, type AccountEntity, type QuotaExhaustedAction } from '../accounts/account.entity';
import { AccountsService } from '../accounts/accounts.service';
import type { DeliveryServerEntity } from '../delivery-servers/delivery-server.entity';
import { DeliveryServersService } from '../delivery-servers/delivery-servers.service';
import { ServerVault } from '../delivery-servers/server-vault';
import { QuotaService } from '../quota/quota.service';
import type { QuotaSubject, QuotaUsage } from '../quota/quota.types';
import { CircuitBreaker } from './circuit-breaker';
import { exhaustedWindow } from '../quota/quota-usage';
import { describeBlock, describeTime, rankCandidates, type RankedCandidate, RouteVia } from './candidate-ranking';
import { SenderCheckCache } from './sender-check.cache';

export interface RouteCandidateResult extends RankedCandidate {
  /** Can take this message now: allowed by the static rules and not at its quota. */
  eligible: boolean;
  usage: QuotaUsage | null;
  /** When full: the moment the blocking window reopens. */
  fullUntil: Date | null;
}

export interface RouteResult {
  account: AccountEntity;
  from: string;
  candidates: RouteCandidateResult[];
  /** The server the worker sends through (or waits for); null: no route. */
  server: DeliveryServerEntity | null;
  effectiveFrom: string | null;
  /** Set when the message cannot be accepted: NO_ROUTE or SENDER_NOT_VERIFIED. */
  code: DeliveryErrorCode.NO_ROUTE | DeliveryErrorCode.SENDER_NOT_VERIFIED | null;
  /** Set when the chosen server is at its quota: the message waits until then. */
  waitUntil: Date | null;
  reason: string;
  onQuotaExhausted: QuotaExhaustedAction;
  /** Failures are being counted against the chosen server: a success must reset them. */
  serverFailing: boolean;
}

const VIA_WORDS: Record<RouteVia, string> = {
  [RouteVia.ASSIGNED]: 'assigned to this account',
  [RouteVia.ACCOUNT_DEFAULT]: "the account's default",
  [RouteVia.AGENCY_DEFAULT]: "the agency's default for sub-accounts",
  [RouteVia.ACCOUNT_SERVER]: "one of the account's servers",
  [RouteVia.PLATFORM]: 'a platform server',
};

/**
 * Picks the server for a message (CONTRACT.md section 4 "Routing"). routePreview and the worker
 * call the same method, so the preview is exactly what will happen. Cost per call: two queries
 * (account, candidates), one Redis round trip (quota usage), and a provider sender check only
 * when its cached answer is missing.
 */
@Injectable()
export class RoutingService {
  private readonly senderChecks = new SenderCheckCache();

  constructor(
    private readonly accounts: AccountsService,
    private readonly servers: DeliveryServersService,
    private readonly quota: QuotaService,
    private readonly vault: ServerVault,
    private readonly gateway: ProviderGateway,
    private readonly breaker: CircuitBreaker,
  ) {}

  /**
   * `freshSenderCheck`: ask the provider again rather than use a cached answer (a campaign resumed
   * after its sender was refused at send time: a cached "verified" would resume it to be refused again).
   */
  async route(accountId: string, from: string, now = new Date(), options: { freshSenderCheck?: boolean } = {}): Promise<RouteResult> {
    const account = await this.accounts.withParent(accountId);
    if (!account) throw new Error(`Account ${accountId} does not exist`);
    const fromDomain = from.slice(from.lastIndexOf('@') + 1).toLowerCase();
    const agencyCustomSmtpEnabled = (account.parent?.addons ?? []).includes(Addon.CUSTOM_SMTP);
    const customSmtpEnabled = agencyCustomSmtpEnabled || account.addons.includes(Addon.CUSTOM_SMTP);
    const { servers, assigned } = await this.servers.routingCandidates(account.id, account.parentId);
    const ranked = rankCandidates(servers, { id: account.id, parentId: account.parentId, customSmtpEnabled, agencyCustomSmtpEnabled }, assigned, fromDomain);

    const timezoneOf = (s: DeliveryServerEntity): string => ownerTimezone(account, s);
    const allowed = ranked.filter((c) => c.allowed);
    const [usages, circuits] = await Promise.all([
      this.quota.usage(allowed.map((c) => subjectOf(c.server, timezoneOf(c.server))), now),
      this.breaker.states(allowed.map((c) => c.server.id)),
    ]);
    const usageOf = new Map(allowed.map((c, i) => [c.server.id, usages[i]]));
    const circuitOf = new Map(allowed.map((c, i) => [c.server.id, circuits[i].openUntil]));
    const failing = new Set(allowed.filter((_c, i) => circuits[i].failing).map((c) => c.server.id));
    const candidates: RouteCandidateResult[] = ranked.map((c) => {
      const usage = usageOf.get(c.server.id) ?? null;
      const block = usage && exhaustedWindow(usage);
      const circuit = circuitOf.get(c.server.id) ?? null;
      // A server that is both full and cooling down waits for whichever comes later.
      const blockedUntil = [block?.resetsAt, circuit].filter((d): d is Date => !!d).sort((a, b) => b.getTime() - a.getTime())[0] ?? null;
      const why = circuit
        ? `out of routing after repeated connection failures until ${describeTime(circuit, timezoneOf(c.server), now)}`
        : block
          ? describeBlock(block, timezoneOf(c.server), now)
          : null;
      return { ...c, usage, eligible: c.allowed && !blockedUntil, fullUntil: blockedUntil, reason: c.reason ?? why };
    });
    const base = { account, from, candidates, onQuotaExhausted: account.onQuotaExhausted, serverFailing: false };

    const usable = candidates.filter((c) => c.allowed);
    if (!usable.length) {
      const why = candidates.length ? candidates.map((c) => `${c.server.name}: ${c.reason}`).join('; ') : 'the account has no delivery servers and there is no platform server';
      return { ...base, server: null, effectiveFrom: null, code: DeliveryErrorCode.NO_ROUTE, waitUntil: null, reason: `No eligible server for ${fromDomain} (${why})` };
    }
    // WAIT stays with the best server and waits for it. FAILOVER takes the best one with room
    // that can send the From, and waits only when every such candidate is full (for the one that
    // reopens first): a full server that can send it is worth waiting for, rather than refusing
    // the mail because the one with room cannot (a one-off would be REJECTED for good).
    const order =
      account.onQuotaExhausted === 'FAILOVER'
        ? [...usable.filter((c) => c.eligible), ...usable.filter((c) => !c.eligible).sort((a, b) => (a.fullUntil?.getTime() ?? 0) - (b.fullUntil?.getTime() ?? 0))]
        : [usable[0]];
    let chosen: RouteCandidateResult | undefined;
    let refused: { candidate: RouteCandidateResult; reason?: string } | undefined;
    for (const candidate of order) {
      const sender = await this.checkSender(candidate.server, from, options.freshSenderCheck ?? false);
      if (sender.verified) {
        chosen = candidate;
        break;
      }
      refused ??= { candidate, reason: sender.reason };
    }
    if (!chosen) {
      const refusal = refused as { candidate: RouteCandidateResult; reason?: string };
      const candidate = refusal.candidate;
      // The provider's words about another owner's server (its domain, its account) stay with that owner.
      const reason = candidate.server.accountId === account.id ? refusal.reason : undefined;
      return {
        ...base,
        server: candidate.server,
        effectiveFrom: null,
        code: DeliveryErrorCode.SENDER_NOT_VERIFIED,
        waitUntil: null,
        reason: `${from} cannot be sent through ${candidate.server.name}: ${reason ?? 'the sender is not verified with the provider'}`,
      };
    }
    const waitUntil = chosen.eligible ? null : chosen.fullUntil;
    const reason = waitUntil
      ? `${chosen.server.name} (${VIA_WORDS[chosen.via]}) cannot take mail now (${chosen.reason}); the message waits`
      : `Routed to ${chosen.server.name} (${VIA_WORDS[chosen.via]})`;
    return { ...base, server: chosen.server, effectiveFrom: chosen.server.senderAddress ?? from, code: null, waitUntil, reason, serverFailing: failing.has(chosen.server.id) };
  }

  /** A forced senderAddress always passes; otherwise the provider says, cached briefly. */
  private async checkSender(server: DeliveryServerEntity, from: string, fresh: boolean): Promise<{ verified: boolean; reason?: string }> {
    if (server.senderAddress) return { verified: true };
    const key = SenderCheckCache.key(server.id, server.updatedAt, from);
    const cached = fresh ? undefined : this.senderChecks.get(key);
    if (cached) return cached;
    try {
      const check = await this.gateway.checkSender(this.vault.providerServer(server), from);
      this.senderChecks.set(key, check);
      return check;
    } catch (err) {
      // The provider could not answer (network, throttling): do not block on it and do not
      // cache it; the send itself will tell.
      // A refusal the provider throws is an answer like one it returns, and is kept as long: FAILOVER
      // passes over such a server, and would otherwise ask again on every routing lookup.
      if (err instanceof DeliveryError && err.code === DeliveryErrorCode.SENDER_NOT_VERIFIED) {
        const refused = { verified: false, reason: err.message };
        this.senderChecks.set(key, refused);
        return refused;
      }
      return { verified: true };
    }
  }
}

/** Quota windows turn on the server owner's clock: the account, its agency, or UTC for platform servers. */
export function ownerTimezone(account: AccountEntity, server: DeliveryServerEntity): string {
  if (server.accountId === null) return 'UTC';
  return server.accountId === account.id ? account.timezone : (account.parent?.timezone ?? 'UTC');
}

export function subjectOf(server: DeliveryServerEntity, timezone: string): QuotaSubject {
  return { serverId: server.id, timezone, limits: { hourly: server.quotaHourly, daily: server.quotaDaily, monthly: server.quotaMonthly } };
}
