import { Inject, Injectable, Logger } from '@nestjs/common';
import { logUnexpected } from '../../infra/errors/unexpected-error';
import { setTimeout as delay } from 'node:timers/promises';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import { SingleFlight } from '../../infra/batching/batcher';
import { DeliveryError } from '../../providers/delivery-error';
import { DeliveryErrorCode } from '../../providers/provider.enums';
import { ProviderGateway } from '../../providers/provider-gateway';
import type { ProviderServer, SendResult } from '../../providers/provider.types';
import { CampaignStatus } from '../campaigns/campaign.entity';
import { CampaignProgress } from '../campaigns/campaign-progress';
import type { DeliveryServerEntity } from '../delivery-servers/delivery-server.entity';
import { ServerVault } from '../delivery-servers/server-vault';
import { type AcquireResult, PacingService } from '../quota/pacing.service';
import { QuotaService } from '../quota/quota.service';
import type { QuotaReservation } from '../quota/quota.types';
import { CircuitBreaker } from '../routing/circuit-breaker';
import { ownerTimezone, type RouteResult, RoutingService, subjectOf } from '../routing/routing.service';
import { type DispatchJob, jobIdOf } from './dispatch-queue';
import { type ClaimedMessage, DispatchWrites, type SentRecord } from './dispatch-writes';
import { MessageStatus, type MessageEntity, type StoredDeliveryError } from './message.entity';
import { type AttemptRecord, MessageStore, suppressedError } from './message-store';
import { UnrecordedSends } from './unrecorded-sends';
import { neverReached } from '../../providers/never-reached';

/** How long mail waits for a worker that can open its server's credentials (see credentialsUnreadable). */
const UNREADABLE_CREDENTIALS_RETRY_MS = 60_000;
/** Short pacing waits happen in the worker; longer ones re-schedule the job instead of holding a slot. */
const MAX_INLINE_WAIT_MS = 2_000;
/** Spreads the messages deferred to one quota reset so they do not all wake at once. */
const RESET_JITTER_MS = 30_000;
/** FAILOVER: how often a message may lose a race for the last unit of a server and try the next. */
const MAX_REROUTES = 3;
/** How long the worker keeps trying to record SENT for a message the provider accepted. */
const SENT_RECORD_DEADLINE_MS = 60 * 60_000;

/**
 * One job, one step of a message's life: load → route → sender check → quota → pause slot →
 * send → record. Every outcome is written to the message row before the job ends, so a crash at
 * any point leaves a row the sweeper can pick up again.
 */
@Injectable()
export class DispatchService {
  private readonly logger = new Logger(DispatchService.name);
  private readonly messageIdDomain: string;
  /**
   * Jobs of one account and From share a routing lookup while it runs and for
   * `config.dispatch.routeHoldMs` (250 ms) after: the decision is then at most that much older
   * than a lookup of its own, and quota is still decided by the reservation, never by the shared
   * lookup. A failed send or a full quota drops the answer at once, so the circuit breaker and
   * quota are seen by the next job; a refusal is never held. A server paused or changed by hand
   * is seen within the hold, and mail moved off such a server looks afresh at once. 25 ms cost
   * ~1,000 more statements per 10,000 messages (docs/performance.md).
   */
  private readonly routes: SingleFlight<RouteResult>;
  private readonly opened = new WeakMap<DeliveryServerEntity, ProviderServer>();

  /** Servers whose unreadable credentials this process has reported (once each). */
  private readonly unreadableLogged = new Set<string>();
  constructor(
    private readonly store: MessageStore,
    private readonly writes: DispatchWrites,
    private readonly routing: RoutingService,
    private readonly quota: QuotaService,
    private readonly pacing: PacingService,
    private readonly gateway: ProviderGateway,
    private readonly vault: ServerVault,
    private readonly breaker: CircuitBreaker,
    private readonly unrecorded: UnrecordedSends,
    private readonly campaigns: CampaignProgress,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.messageIdDomain = new URL(config.publicUrl).hostname || 'mailroute.invalid';
    this.routes = new SingleFlight<RouteResult>(config.dispatch.routeHoldMs);
  }

  async process(job: DispatchJob): Promise<void> {
    const claimedAt = Date.now();
    const message = await this.writes.claim(job.messageId, job.seq);
    if (!message) return; // done already, or a newer schedule owns it
    if (message.campaignStatus === CampaignStatus.PAUSED) {
      await this.leaveLine(message);
      await this.store.release(message);
      return;
    }
    // Suppressed since it was accepted (a hard bounce, a complaint or a manual entry meanwhile):
    // not sent, like a message suppressed at the accept.
    if (message.suppressed) {
      await this.leaveLine(message);
      await this.store.finish(message, MessageStatus.SUPPRESSED, suppressedError(message.to), null);
      this.campaigns.completeSoon(message.campaignId);
      return;
    }
    let sending = false;
    try {
      // Jobs of a re-route share lookups among themselves only: all of theirs are made after it.
      const routeKey = job.rerouteId ? `${routeKeyOf(message)}\n${job.rerouteId}` : routeKeyOf(message);
      return await this.routeAndSend(message, { jobId: jobIdOf(job.messageId, job.seq), claimedAt, routeKey }, () => (sending = true));
    } catch (err) {
      // Failed before anything went out (Redis or the database away): hand the message back
      // now, so the sweeper picks it up after one interval, not after STUCK_SENDING_MS.
      if (!sending) await this.store.release(message).catch(() => undefined);
      throw err;
    }
  }

  /** Route, reserve quota, take the pause slot, send. `willSend` is called right before the send. */
  private async routeAndSend(message: ClaimedMessage, job: JobInHand, willSend: () => void): Promise<void> {
    const { routeKey } = job;
    for (let reroute = 0; ; reroute++) {
      const lookup = this.routes.run(routeKey, () => this.routing.route(message.accountId, message.from));
      let route = await lookup;
      // A campaign pauses on a refused sender; the refusal may be one this worker remembers from
      // before the fix its campaign was just resumed for (sender checks are kept 5 minutes):
      // the provider is asked again before the campaign is paused for it.
      if (route.code === DeliveryErrorCode.SENDER_NOT_VERIFIED && message.campaignId) {
        this.routes.forget(routeKey, lookup);
        route = await this.routing.route(message.accountId, message.from, new Date(), { freshSenderCheck: true });
      }
      // A refusal is not held: it fails a one-off for good, so the next job looks for itself
      // (a server fixed or activated meanwhile is seen at once).
      if (route.code) {
        this.routes.forget(routeKey, lookup);
        await this.leaveLine(message);
        return this.refuse(message, route);
      }
      const server = route.server as DeliveryServerEntity;
      // Routed elsewhere, or to wait for a window: no longer waiting its turn on the server it waited for.
      if (route.waitUntil || message.serverId !== server.id) await this.leaveLine(message);
      if (route.waitUntil) return this.waitForQuota(message, server, route.waitUntil, route.reason);
      let target: ProviderServer;
      try {
        target = this.providerServer(server);
      } catch {
        return this.credentialsUnreadable(message, server);
      }
      const reserved = await this.quota.reserve(subjectOf(server, ownerTimezone(route.account, server)));
      if (!reserved.ok) {
        // The answer said there was room: the next job (and a FAILOVER retry) looks again.
        this.routes.forget(routeKey, lookup);
        // Another worker took the last unit since routing looked: FAILOVER looks again, WAIT waits.
        if (route.onQuotaExhausted === 'FAILOVER' && reroute < MAX_REROUTES) continue;
        if (message.serverId === server.id) await this.pacingLineLeft(server.id, message.id);
        return this.waitForQuota(message, server, reserved.resetsAt, `${reserved.window.toLowerCase()} quota of ${server.name} is full`);
      }
      // The attempt (attempts + 1 and its ROUTED event) is written with its outcome, not before
      // the send: one write less per message, and nothing stands between the pause slot and
      // the send. A worker that dies mid-send leaves SENDING, which says the same.
      const attempt: AttemptRecord = { serverId: server.id, detail: route.reason, at: new Date() };
      let slot: AcquireResult | undefined;
      try {
        slot = await this.pacing.acquire(server.id, server.pauseMs, { maxInlineWaitMs: MAX_INLINE_WAIT_MS, waiter: message.id });
        if (slot.reschedule) {
          await this.quota.release(reserved.reservation);
          // Waiting for this server: a pause shortened, or the server paused or deleted meanwhile,
          // routes it again at once (updateDeliveryServer, pauseDeliveryServer). Like a quota wait
          // it carries no error (the last failure stays in its events), so those find it.
          return this.store.defer(message, slot.notBefore, null, null, server.id, { clearError: true });
        }
        // The wait for the slot may have outlasted a pauseCampaign: hand everything back unused.
        if (message.campaignId && slot.waitedMs > 0 && (await this.campaigns.isPaused(message.campaignId))) {
          await this.pacing.markSent(server.id, server.pauseMs);
          await this.quota.release(reserved.reservation);
          return this.store.release(message);
        }
      } catch (err) {
        // Nothing was sent: the unit of quota goes back before the job fails (the sweeper
        // re-queues the message), and a slot taken is given up (its in-flight mark would hold
        // every send through the server back until it expires).
        if (slot && !slot.reschedule) await this.pacing.markSent(server.id, server.pauseMs).catch(() => undefined);
        await this.quota.release(reserved.reservation).catch(() => undefined);
        throw err;
      }
      willSend();
      return this.send(message, job, server, target, reserved.reservation, attempt, route.serverFailing);
    }
  }

  /**
   * The message will not come back for its place in the waiting line of the server it waited for
   * (if it had one): the places behind it move up now, not when its place lapses.
   */
  private leaveLine(message: MessageEntity): Promise<void> {
    return message.serverId ? this.pacingLineLeft(message.serverId, message.id) : Promise.resolve();
  }

  /** The campaign this call paused: the rest of its mail will not come back for its places in the waiting lines either. */
  private leaveLinesOfCampaign(campaignId: string): Promise<void> {
    return this.bestEffort(`waiting lines of campaign ${campaignId}`, async () => this.pacing.leaveLines(await this.store.waitingOfCampaign(campaignId)));
  }

  private pacingLineLeft(serverId: string, messageId: string): Promise<void> {
    return this.bestEffort(`waiting line of server ${serverId}`, () => this.pacing.leaveLine(serverId, [messageId]));
  }

  private async send(
    message: MessageEntity,
    job: JobInHand,
    server: DeliveryServerEntity,
    target: ProviderServer,
    reservation: QuotaReservation,
    attempt: AttemptRecord,
    serverFailing: boolean,
  ): Promise<void> {
    let sent: SendResult;
    try {
      sent = await this.gateway.send(target, {
        from: message.from,
        to: message.to,
        replyTo: message.replyTo,
        subject: message.subject,
        html: message.html,
        text: message.text,
        headers: message.headers ?? [],
        // Derived from the id: a duplicate after a crash mid-send is recognisable downstream.
        messageId: `<${message.id}@${this.messageIdDomain}>`,
      });
    } catch (err) {
      // The failure may open the circuit breaker or pause the server: no job should start on
      // the held answer from now on…
      this.forgetRoutes(message);
      const error =
        err instanceof DeliveryError
          ? err
          : new DeliveryError({ code: DeliveryErrorCode.PROVIDER_ERROR, transient: true, message: `The send failed unexpectedly (error id ${logUnexpected(this.logger, `Unexpected send failure for message ${message.id}`, err)})` });
      // The record first: Redis trouble must not leave the message without its outcome.
      try {
        await this.failed(message, server, error, attempt);
      } finally {
        await this.bestEffort(`pacing of server ${server.id}`, () => this.pacing.markSent(server.id, server.pauseMs));
        if (neverReached(error)) await this.bestEffort(`quota release for server ${server.id}`, () => this.quota.release(reservation));
        await this.bestEffort(`failure count of server ${server.id}`, () => this.breaker.recordFailure(server.id, error.code, error.message));
        // …nor on one looked up before the failure was counted.
        this.forgetRoutes(message);
      }
      return;
    }
    // The provider has the message: from here on nothing may schedule it again, so nothing
    // between here and the SENT record may throw (Redis trouble is logged, not raised).
    await this.bestEffort(`pacing of server ${server.id}`, () => this.pacing.markSent(server.id, server.pauseMs));
    // The job ends here and its slot takes the next message: the SENT record is written with the
    // next group of them, and until then UnrecordedSends keeps the message from the sweeper.
    const recorded = this.recordSent({ messageId: message.id, attempt, transport: sent.transport, providerMessageId: sent.providerMessageId, detail: `via ${server.name} (${sent.transport})` }).then(async () => {
      // Routing saw failures counted against the server: this success resets them. (Failures
      // counted since that lookup wait for the next success; the counts expire anyway.)
      if (serverFailing) await this.bestEffort(`failure counts of server ${server.id}`, () => this.breaker.recordSuccess(server.id));
      this.campaigns.completeSoon(message.campaignId);
    });
    await this.unrecorded.track(job.jobId, job.claimedAt, recorded);
  }

  /**
   * SENT must be recorded, or the sweeper would one day send the message again: the batched
   * write retries while the database is away; if it still fails, the message is marked SENT
   * alone (no events), again and again with a growing pause, for up to SENT_RECORD_DEADLINE_MS.
   * UnrecordedSends guards the message meanwhile, so no one else takes it.
   */
  private async recordSent(record: SentRecord): Promise<void> {
    const deadline = Date.now() + SENT_RECORD_DEADLINE_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        return await (attempt === 0 ? this.writes.markSent(record) : this.writes.markSentAlone(record));
      } catch (err) {
        const why = err instanceof Error ? err.message : 'error';
        if (Date.now() >= deadline) {
          this.logger.error(`Message ${record.messageId} was accepted by the provider but its SENT record failed for good (${why}); it may be sent again`);
          throw err;
        }
        this.logger.error(`Message ${record.messageId} was accepted by the provider but its SENT record failed (${why}); trying again`);
        await delay(Math.min(1_000 * 2 ** attempt, 30_000));
      }
    }
  }

  /** Drops every routing answer held for this account and From: the shared one and those of re-routes. */
  private forgetRoutes(message: MessageEntity): void {
    this.routes.forgetWithVariants(routeKeyOf(message));
  }

  private async bestEffort(what: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.logger.warn(`Could not update the ${what}: ${err instanceof Error ? err.message : 'error'}`);
    }
  }

  /**
   * The server with its credentials opened, once per loaded server row: jobs sharing a routing
   * answer share its row, so a campaign does not decrypt the same credentials per message.
   */
  /**
   * This worker cannot open the server's stored credentials: they are sealed under a key it is not
   * configured with (CREDENTIALS_KEY replaced without the old one in CREDENTIALS_KEYS_PREVIOUS, or
   * a deploy where other processes already have the new key). Nothing is reserved or sent and the
   * server is not blamed (no breaker count: a worker that has the key may send it); the message
   * waits a minute without using up an attempt, and the operator is told once per server.
   */
  private async credentialsUnreadable(message: MessageEntity, server: DeliveryServerEntity): Promise<void> {
    if (!this.unreadableLogged.has(server.id)) {
      this.unreadableLogged.add(server.id);
      this.logger.error(`Delivery server ${server.id}: its stored credentials open with none of this process's keys (CREDENTIALS_KEY, CREDENTIALS_KEYS_PREVIOUS)`);
    }
    // Not an attempt (nothing was sent, and a worker with the key may take it next), so it uses up
    // none; its place in the server's waiting line goes to the mail behind it.
    if (message.serverId === server.id) await this.pacingLineLeft(server.id, message.id);
    const notBefore = new Date(Date.now() + UNREADABLE_CREDENTIALS_RETRY_MS);
    const error = toStoredError(
      new DeliveryError({ code: DeliveryErrorCode.PROVIDER_ERROR, transient: true, message: `The worker could not open the stored credentials of ${server.name} with its configured keys; it tries again` }),
    );
    await this.store.defer(message, notBefore, `${error.message} at ${notBefore.toISOString()}`, error, server.id);
  }

  private providerServer(server: DeliveryServerEntity): ProviderServer {
    let opened = this.opened.get(server);
    if (!opened) {
      opened = this.vault.providerServer(server);
      this.opened.set(server, opened);
    }
    return opened;
  }

  private async failed(message: MessageEntity, server: DeliveryServerEntity, error: DeliveryError, attempt: AttemptRecord): Promise<void> {
    const shown = shareableMessage(error, server.accountId === message.accountId);
    // The provider's own words are kept from the message's account, not from the server's
    // operators: they go to the log (DeliveryError messages never carry a credential).
    if (shown !== error.message) this.logger.warn(`Message ${message.id} through server ${server.id} failed (${error.code}): ${error.message}`);
    const stored = { ...toStoredError(error), message: shown };
    const attempts = message.attempts + 1;
    if (error.code === DeliveryErrorCode.SENDER_NOT_VERIFIED && message.campaignId) {
      const paused = await this.campaigns.pause(message.campaignId, DeliveryErrorCode.SENDER_NOT_VERIFIED, `${server.name} refused the sender ${message.from}: ${shown}`);
      await this.store.release(message);
      if (paused) await this.leaveLinesOfCampaign(message.campaignId);
      return;
    }
    if (error.transient && attempts < this.config.dispatch.maxAttempts) {
      const backoff = Math.min(this.config.dispatch.retryBaseMs * 2 ** (attempts - 1), 3_600_000);
      const delay = Math.max(backoff * (0.8 + Math.random() * 0.4), error.retryAfterMs ?? 0);
      await this.store.defer(message, new Date(Date.now() + delay), `attempt ${attempts} failed, retrying: ${shown}`, stored, server.id, { attempt });
      return;
    }
    await this.store.finish(message, MessageStatus.FAILED, stored, server.id, attempt);
    this.campaigns.completeSoon(message.campaignId);
  }

  /** No route, or a From the server cannot send: a campaign pauses (its mail waits), a single message is REJECTED. */
  private async refuse(message: MessageEntity, route: RouteResult): Promise<void> {
    const code = route.code as DeliveryErrorCode;
    if (message.campaignId) {
      const paused = await this.campaigns.pause(message.campaignId, code, route.reason);
      await this.store.release(message);
      if (paused) await this.leaveLinesOfCampaign(message.campaignId);
      return;
    }
    await this.store.finish(message, MessageStatus.REJECTED, { code, message: route.reason, transport: null, smtpResponseCode: null, providerStatus: null, step: null }, route.server?.id ?? null);
  }

  private waitForQuota(message: MessageEntity, server: DeliveryServerEntity, resetsAt: Date, why: string): Promise<void> {
    // The message shows the reset itself (CONTRACT: nextAttemptAt at the window's reset); its job
    // runs a little after, spread so that a reset does not wake every waiter at once.
    const runAt = new Date(resetsAt.getTime() + Math.floor(Math.random() * RESET_JITTER_MS));
    // No error while it waits for a window: the last failure, if any, stays in its events, and a
    // raised limit finds it among the quota waiters (MessageStore.waitingFor).
    return this.store.defer(message, resetsAt, `${why}; waits until ${resetsAt.toISOString()}`, null, server.id, { clearError: true, runAt });
  }
}

/** Jobs of one account and From share routing answers. */
const routeKeyOf = (message: MessageEntity): string => `${message.accountId}\n${message.from}`;

/** The job a message is being sent for, and when it claimed the message. */
interface JobInHand {
  jobId: string;
  claimedAt: number;
  /** Whose routing lookups it shares (routeKeyOf, and the re-route it belongs to if any). */
  routeKey: string;
}

/**
 * What a failure through a server the message's account does not own (a platform server, its
 * agency's) may say: the server's own words about the recipient or the content are the sender's
 * to read; anything about the server itself (its host, address, login, provider account) is its
 * owner's, and is said in general terms (the code, step and reply code stay).
 */
const GENERAL_TERMS: Partial<Record<DeliveryErrorCode, string>> = {
  [DeliveryErrorCode.AUTH_FAILED]: 'The delivery server could not log in to its provider',
  [DeliveryErrorCode.SENDER_NOT_VERIFIED]: 'The delivery server may not send from this address',
  [DeliveryErrorCode.CONNECTION_FAILED]: 'The delivery server could not reach its provider',
  [DeliveryErrorCode.TIMEOUT]: 'The delivery server’s provider did not answer in time',
  [DeliveryErrorCode.THROTTLED]: 'The delivery server’s provider is throttling',
  [DeliveryErrorCode.QUOTA_EXCEEDED]: 'The delivery server’s provider quota is used up',
  [DeliveryErrorCode.BLOCKED_DESTINATION]: 'The delivery server’s address is not allowed',
};
const SENDERS_OWN = new Set([DeliveryErrorCode.RECIPIENT_REJECTED, DeliveryErrorCode.MESSAGE_REJECTED]);

export function shareableMessage(error: DeliveryError, ownServer: boolean): string {
  if (ownServer || SENDERS_OWN.has(error.code)) return error.message;
  return GENERAL_TERMS[error.code] ?? 'The delivery server’s provider failed';
}

export function toStoredError(error: DeliveryError): StoredDeliveryError {
  return {
    code: error.code,
    message: error.message,
    transport: error.transport ?? null,
    smtpResponseCode: error.smtpResponseCode ?? null,
    providerStatus: error.providerStatus ?? null,
    step: error.smtpStep ?? null,
  };
}
