import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager, In, type Repository } from 'typeorm';
import type { Viewer } from '../../infra/auth/viewer';
import { BadUserInputError, ConflictError, NotFoundError } from '../../infra/errors/domain-error';
import { type Connection, paginate } from '../../infra/graphql/pagination';
import { requestLoader } from '../../infra/graphql/request-loaders';
import { DeliveryErrorCode } from '../../providers/provider.enums';
import { TenantScope } from '../accounts/tenant-scope.service';
import { DispatchQueue } from '../messages/dispatch-queue';
import { MessageStore } from '../messages/message-store';
import { MessageSource, MessageStatus } from '../messages/message.entity';
import { PacingService } from '../quota/pacing.service';
import { RoutingService } from '../routing/routing.service';
import { SuppressionsService } from '../suppressions/suppressions.service';
import { CampaignEntity, CampaignRecipientEntity, CampaignStatus } from './campaign.entity';
import { COMPLETE_CAMPAIGN_SQL, CampaignProgress } from './campaign-progress';
import type { CampaignStatsModel } from './campaign.model';
import type { CreateCampaignInput } from './dto/create-campaign.input';
import { normaliseRecipients } from './recipients';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Rows per multi-row INSERT of recipients (two parameters each). */
const INSERT_BATCH = 1_000;
/**
 * Recipients turned into messages per launch transaction: small enough that the first jobs are
 * queued within a fraction of a second, large enough that a 50,000-recipient start stays one
 * statement pair per thousand.
 */
const LAUNCH_CHUNK = 1_000;
const FIRST_LAUNCH_CHUNK = 100;
/** Pending messages given a new schedule per statement when a campaign resumes. */
const RESUME_CHUNK = 1_000;

/** Which stats bucket a message in each status counts in: every status exactly once. */
const BUCKET: Record<MessageStatus, Exclude<keyof CampaignStatsModel, 'total'>> = {
  [MessageStatus.QUEUED]: 'queued',
  [MessageStatus.SENDING]: 'queued',
  [MessageStatus.DEFERRED]: 'deferred',
  [MessageStatus.SENT]: 'sent',
  [MessageStatus.DELIVERED]: 'delivered',
  [MessageStatus.FAILED]: 'failed',
  [MessageStatus.REJECTED]: 'failed',
  [MessageStatus.BOUNCED]: 'bounced',
  [MessageStatus.COMPLAINED]: 'complained',
  [MessageStatus.SUPPRESSED]: 'suppressed',
};

const emptyStats = (total = 0): CampaignStatsModel => ({ total, queued: 0, deferred: 0, sent: 0, delivered: 0, failed: 0, bounced: 0, complained: 0, suppressed: 0 });

export interface CampaignFilter {
  status?: CampaignStatus | null;
  first?: number | null;
  after?: string | null;
}

/**
 * Campaigns (CONTRACT.md section 4 "Messages and campaigns"): a DRAFT holds its audience in
 * campaign_recipients; startCampaign routes first, then turns the recipients into messages a
 * chunk per transaction, queuing each chunk's jobs after its commit (the outbox of MessageStore). The dispatch
 * worker skips messages of a PAUSED campaign and marks it COMPLETED when nothing is pending.
 */
@Injectable()
export class CampaignsService {
  private readonly logger = new Logger(CampaignsService.name);
  private readonly campaigns: Repository<CampaignEntity>;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly scope: TenantScope,
    private readonly routing: RoutingService,
    private readonly suppressions: SuppressionsService,
    private readonly queue: DispatchQueue,
    private readonly store: MessageStore,
    private readonly progress: CampaignProgress,
    private readonly pacing: PacingService,
  ) {
    this.campaigns = dataSource.getRepository(CampaignEntity);
  }

  /** DRAFT, with its recipients, in one transaction; any bad address stores nothing. */
  async create(viewer: Viewer, input: CreateCampaignInput): Promise<CampaignEntity> {
    const account = await this.scope.account(viewer, input.accountId);
    if (!input.html && !input.text) throw new BadUserInputError('Give html or text (or both)', ['html', 'text']);
    const recipients = normaliseRecipients(input.recipients);
    return this.dataSource.transaction(async (tx) => {
      const campaign = await tx.save(
        tx.create(CampaignEntity, {
          accountId: account.id,
          name: input.name,
          from: input.from,
          subject: input.subject,
          html: input.html ?? null,
          text: input.text ?? null,
          status: CampaignStatus.DRAFT,
          pauseReason: null,
          pauseCode: null,
          startedAt: null,
          completedAt: null,
        }),
      );
      await insertRecipients(tx, campaign.id, recipients);
      return campaign;
    });
  }

  /** DRAFT only: more recipients, validated and de-duplicated (also against those already there). */
  async addRecipients(viewer: Viewer, id: string, recipients: string[]): Promise<CampaignEntity> {
    const campaign = await this.get(viewer, id);
    const emails = normaliseRecipients(recipients);
    await this.dataSource.transaction(async (tx) => {
      // The row lock orders this against a concurrent start: recipients never slip in after it.
      const locked = await tx.findOne(CampaignEntity, { where: { id: campaign.id }, lock: { mode: 'pessimistic_write' } });
      if (locked?.status !== CampaignStatus.DRAFT) throw notDraft(campaign.id, locked?.status ?? campaign.status, 'take recipients');
      await insertRecipients(tx, campaign.id, emails);
    });
    return this.campaigns.findOneByOrFail({ id: campaign.id });
  }

  /** Starting twice (or a campaign that is not a DRAFT) is a CONFLICT: a PAUSED one resumes with resumeCampaign. */
  async start(viewer: Viewer, id: string): Promise<CampaignEntity> {
    const campaign = await this.get(viewer, id);
    if (campaign.status !== CampaignStatus.DRAFT) throw notDraft(campaign.id, campaign.status, 'start');
    return this.launch(campaign, CampaignStatus.DRAFT);
  }

  /** SENDING → PAUSED: messages not yet claimed by a worker wait (the worker hands them back). Pausing a PAUSED campaign changes nothing. */
  async pause(viewer: Viewer, id: string): Promise<CampaignEntity> {
    const campaign = await this.get(viewer, id);
    if (campaign.status === CampaignStatus.PAUSED) return campaign;
    const result = await this.campaigns
      .createQueryBuilder()
      .update()
      .set({ status: CampaignStatus.PAUSED, pauseCode: null, pauseReason: null })
      .where('id = :id AND status = :sending', { id: campaign.id, sending: CampaignStatus.SENDING })
      .returning('id')
      .execute();
    const after = await this.campaigns.findOneByOrFail({ id: campaign.id });
    if (!(result.raw as unknown[]).length && after.status !== CampaignStatus.PAUSED) {
      throw new ConflictError(`Campaign ${campaign.id} is ${after.status}: only a SENDING campaign can be paused`);
    }
    // Its waiting mail gives up its places in the servers' waiting lines: the mail behind moves up
    // now (best effort: places nobody claims lapse a minute after their time anyway).
    if ((result.raw as unknown[]).length) {
      try {
        await this.pacing.leaveLines(await this.store.waitingOfCampaign(campaign.id));
      } catch {
        // The campaign is paused all the same.
      }
    }
    return after;
  }

  /**
   * PAUSED → re-checks the route first (still refused: stays PAUSED with the new code and reason);
   * else SENDING, and every pending message gets a new schedule (jobs after commit). A campaign
   * paused before it ever started (its route was refused at start) is started now. Resuming a
   * SENDING campaign changes nothing.
   */
  async resume(viewer: Viewer, id: string): Promise<CampaignEntity> {
    const campaign = await this.get(viewer, id);
    if (campaign.status === CampaignStatus.SENDING) return campaign;
    if (campaign.status !== CampaignStatus.PAUSED) throw new ConflictError(`Campaign ${campaign.id} is ${campaign.status}: only a PAUSED campaign can be resumed`);
    if (!campaign.startedAt) return this.launch(campaign, CampaignStatus.PAUSED);

    const route = await this.routeAgain(campaign);
    if (route.code) return this.hold(campaign.id, CampaignStatus.PAUSED, route.code, route.reason);
    const resumed = await this.campaigns
      .createQueryBuilder()
      .update(CampaignEntity)
      .set({ status: CampaignStatus.SENDING, pauseCode: null, pauseReason: null })
      .where('id = :id AND status = :paused', { id: campaign.id, paused: CampaignStatus.PAUSED })
      .returning('id')
      .execute();
    // Resumed (or changed) by someone else meanwhile: theirs to schedule.
    if ((resumed.raw as unknown[]).length) {
      // Resumed either way: what could not be scheduled now is the sweeper's (see rescheduleWaiting).
      await this.rescheduleWaiting(campaign.id).catch((err: unknown) =>
        this.logger.warn(`Campaign ${campaign.id}: resumed, but scheduling its messages stopped part-way (${err instanceof Error ? err.message : 'error'}); the sweeper queues the rest`),
      );
      // Everything may have finished while it was paused (the last sends were in flight).
      await completeIfDone(this.dataSource.manager, campaign.id);
    }
    // Paused part-way through its launch: the rest of its messages are written now if nobody is.
    if (campaign.launchCursor !== null) await this.writeLaunchMessagesOrLeave(campaign.id);
    return this.campaigns.findOneByOrFail({ id: campaign.id });
  }

  /**
   * A new seq for each of the campaign's pending messages voids any job left from before the
   * pause; a message deferred to a later time (quota reset, retry backoff) keeps its status and
   * time. A chunk per statement, queued after it commits: a campaign of a million recipients
   * paused early was one transaction over all of them. Stopped part-way (a crash), the rest stay
   * QUEUED or DEFERRED without a job, which the sweeper re-adds; an old job that claims one first
   * sends it, and its chunk then leaves it alone (it is no longer pending). Paused again meanwhile,
   * it stops: the next resume schedules the rest. (The ids are read once, ids only.)
   */
  private async rescheduleWaiting(campaignId: string): Promise<void> {
    const pending = await this.dataSource.query<{ id: string }[]>(`SELECT id FROM messages WHERE campaign_id = $1 AND status IN ('QUEUED', 'DEFERRED')`, [campaignId]);
    for (let i = 0; i < pending.length; i += RESUME_CHUNK) {
      const [rows] = (await this.dataSource.query(
        `UPDATE messages
            SET dispatch_seq = dispatch_seq + 1,
                status = CASE WHEN status = 'DEFERRED' AND next_attempt_at > now() THEN status ELSE 'QUEUED' END,
                updated_at = now()
          WHERE id = ANY($1::uuid[]) AND status IN ('QUEUED', 'DEFERRED')
            AND EXISTS (SELECT 1 FROM campaigns c WHERE c.id = $2 AND c.status = 'SENDING')
          RETURNING id, dispatch_seq, next_attempt_at`,
        [pending.slice(i, i + RESUME_CHUNK).map((r) => r.id), campaignId],
      )) as [{ id: string; dispatch_seq: number; next_attempt_at: Date | null }[], number];
      if (!rows.length && !(await this.campaigns.existsBy({ id: campaignId, status: CampaignStatus.SENDING }))) return;
      await this.enqueue(campaignId, rows.map((r) => ({ messageId: r.id, seq: r.dispatch_seq, notBefore: r.next_attempt_at })));
    }
  }

  /** Its route now; the sender asked afresh when it was refused before (a cached "verified" may be what failed). */
  private routeAgain(campaign: CampaignEntity) {
    return this.routing.route(campaign.accountId, campaign.from, new Date(), { freshSenderCheck: campaign.pauseCode === DeliveryErrorCode.SENDER_NOT_VERIFIED });
  }

  /** The campaign if the viewer reaches its account; NOT_FOUND otherwise (like one that does not exist). */
  async get(viewer: Viewer, id: string): Promise<CampaignEntity> {
    const campaign = UUID_RE.test(id) ? await this.campaigns.findOneBy({ id }) : null;
    if (!campaign) throw new NotFoundError('Campaign', id);
    await this.scope.account(viewer, campaign.accountId).catch(() => {
      throw new NotFoundError('Campaign', id);
    });
    return campaign;
  }

  async list(viewer: Viewer, accountId: string, filter: CampaignFilter): Promise<Connection<CampaignEntity>> {
    const account = await this.scope.account(viewer, accountId);
    const qb = this.campaigns.createQueryBuilder('campaign').where('campaign.accountId = :accountId', { accountId: account.id });
    if (filter.status) qb.andWhere('campaign.status = :status', { status: filter.status });
    return paginate(qb, filter, (row) => row);
  }

  /** Batched per request (Message.campaign): the campaigns with these ids. */
  byId(ctx: object, id: string): Promise<CampaignEntity | null> {
    return requestLoader<string, CampaignEntity | null>(ctx, 'campaign.byId', async (ids) => {
      const rows = await this.campaigns.findBy({ id: In([...ids]) });
      const map = new Map(rows.map((r) => [r.id, r]));
      return ids.map((i) => map.get(i) ?? null);
    }).load(id);
  }

  /**
   * Batched per request: one grouped query over the messages of the started campaigns (and the
   * recipients a launch has still to write), and one count of recipients for those not started.
   */
  stats(ctx: object, campaign: { id: string; startedAt: Date | null }): Promise<CampaignStatsModel> {
    return requestLoader<{ id: string; startedAt: Date | null }, CampaignStatsModel>(
      ctx,
      'campaign.stats',
      async (keys) => {
        const started = keys.filter((k) => k.startedAt).map((k) => k.id);
        const drafts = keys.filter((k) => !k.startedAt).map((k) => k.id);
        const stats = new Map<string, CampaignStatsModel>(keys.map((k) => [k.id, emptyStats()]));
        if (started.length) {
          const rows = (await this.dataSource.query(
            // Recipients whose message a launch under way has not written yet count as queued.
            `SELECT campaign_id, status::text, count(*)::int AS n FROM messages WHERE campaign_id = ANY($1::uuid[]) GROUP BY campaign_id, status
             UNION ALL
             SELECT c.id, 'QUEUED', count(*)::int FROM campaigns c JOIN campaign_recipients r ON r.campaign_id = c.id AND r.email > c.launch_cursor
              WHERE c.id = ANY($1::uuid[]) GROUP BY c.id`,
            [started],
          )) as { campaign_id: string; status: MessageStatus; n: number }[];
          for (const r of rows) {
            const s = stats.get(r.campaign_id) as CampaignStatsModel;
            s.total += r.n;
            s[BUCKET[r.status]] += r.n;
          }
        }
        if (drafts.length) {
          const rows = (await this.dataSource.query(
            `SELECT campaign_id, count(*)::int AS n FROM campaign_recipients WHERE campaign_id = ANY($1::uuid[]) GROUP BY campaign_id`,
            [drafts],
          )) as { campaign_id: string; n: number }[];
          for (const r of rows) (stats.get(r.campaign_id) as CampaignStatsModel).total = r.n;
        }
        return keys.map((k) => stats.get(k.id) as CampaignStatsModel);
      },
      { cacheKeyFn: (k) => k.id },
    ).load({ id: campaign.id, startedAt: campaign.startedAt });
  }

  /**
   * Routes first: a refused route leaves the campaign PAUSED with the code and reason. Otherwise
   * claims the campaign (SENDING, startedAt, a launch cursor) and turns its recipients into
   * messages LAUNCH_CHUNK per transaction, each chunk's jobs added after its commit: workers send
   * the first messages while the rest are written. A launch cut short (the process died) is
   * finished by a worker (continueLaunches); until then the campaign cannot complete.
   */
  private async launch(campaign: CampaignEntity, from: CampaignStatus.DRAFT | CampaignStatus.PAUSED): Promise<CampaignEntity> {
    const recipientCount = await this.dataSource.getRepository(CampaignRecipientEntity).countBy({ campaignId: campaign.id });
    if (!recipientCount) throw BadUserInputError.field('id', 'names a campaign without recipients: add some with addCampaignRecipients first');
    const route = await this.routeAgain(campaign);
    if (route.code) return this.hold(campaign.id, from, route.code, route.reason);

    // A second start (or addCampaignRecipients) finds it started: both require started_at IS NULL.
    const claimed = await this.campaigns
      .createQueryBuilder()
      .update(CampaignEntity)
      .set({ status: CampaignStatus.SENDING, startedAt: () => 'now()', pauseCode: null, pauseReason: null, launchCursor: '' })
      .where('id = :id AND status = :from AND started_at IS NULL', { id: campaign.id, from })
      .returning('id')
      .execute();
    if (!(claimed.raw as unknown[]).length) throw new ConflictError(`Campaign ${campaign.id} has already been started`);
    await this.writeLaunchMessagesOrLeave(campaign.id);
    return this.campaigns.findOneByOrFail({ id: campaign.id });
  }

  /**
   * Started (or resumed) all the same when writing its messages stops part-way (SENDING, its
   * cursor kept): the answer says so, and a worker finishes the launch once the cursor is stale.
   * An error here would invite a retry that cannot work.
   */
  private async writeLaunchMessagesOrLeave(campaignId: string): Promise<void> {
    try {
      await this.writeLaunchMessages(campaignId);
    } catch (err) {
      this.logger.warn(`Campaign ${campaignId}: writing its messages stopped part-way (${err instanceof Error ? err.message.slice(0, 200) : 'error'}); a worker will finish the launch`);
    }
  }

  /**
   * Finishes the launches nobody is writing any more: a campaign whose launch cursor has not
   * moved for `staleMs` (a chunk takes well under a second). Run by workers with their sweep.
   */
  async continueLaunches(staleMs: number): Promise<void> {
    const stalled = (await this.dataSource.query(
      `SELECT id FROM campaigns WHERE launch_cursor IS NOT NULL AND updated_at < now() - make_interval(secs => $1::float8 / 1000)`,
      [staleMs],
    )) as { id: string }[];
    for (const { id } of stalled) {
      this.logger.warn(`Campaign ${id}: its launch stopped part-way; writing the remaining messages`);
      await this.writeLaunchMessages(id);
    }
  }

  /**
   * The messages of a launched campaign's recipients after its cursor (in email order), a chunk
   * per transaction that also moves the cursor. Each chunk reads the cursor under the campaign's
   * row lock, so two writers (a slow launch and a recovery) never write a recipient twice.
   */
  private async writeLaunchMessages(campaignId: string): Promise<void> {
    // A small first chunk gets the workers going sooner; then full ones.
    for (let size = FIRST_LAUNCH_CHUNK; ; size = LAUNCH_CHUNK) {
      const chunk = await this.dataSource.transaction(async (tx) => {
        const campaign = await tx.getRepository(CampaignEntity).findOne({ where: { id: campaignId }, lock: { mode: 'pessimistic_write' } });
        if (!campaign || campaign.launchCursor === null) return null;
        const emails = (
          (await tx.query('SELECT email FROM campaign_recipients WHERE campaign_id = $1 AND email > $2 ORDER BY email LIMIT $3', [
            campaignId,
            campaign.launchCursor,
            size,
          ])) as { email: string }[]
        ).map((r) => r.email);
        const last = emails.length < size;
        const suppressed = await this.suppressions.suppressedAmong(campaign.accountId, emails);
        const written = await this.store.accept(
          {
            accountId: campaign.accountId,
            campaignId: campaign.id,
            source: MessageSource.CAMPAIGN,
            from: campaign.from,
            replyTo: null,
            subject: campaign.subject,
            // The body stays on the campaign (it cannot change once created): the worker's claim
            // reads it from there. A copy per message would store a 100 KB newsletter 50,000 times.
            html: null,
            text: null,
            headers: null,
          },
          emails.map((to) => ({ to, suppressed: suppressed.has(to) })),
          tx,
        );
        await tx.query('UPDATE campaigns SET launch_cursor = $2, updated_at = now() WHERE id = $1', [campaignId, last ? null : emails[emails.length - 1]]);
        // Every recipient suppressed, or all sent while the last chunk was written: done now.
        if (last) await completeIfDone(tx, campaignId);
        return { written, last };
      });
      if (!chunk) return;
      // After commit (the outbox rule): a crash before this leaves QUEUED rows the sweeper re-queues.
      await this.enqueue(
        campaignId,
        chunk.written.filter((m) => m.status === MessageStatus.QUEUED).map((m) => ({ messageId: m.id, seq: m.dispatchSeq })),
      );
      if (chunk.last) {
        // Once more after the commit: a worker that finished the last message while that chunk
        // was written still saw the cursor set, and the chunk's own check saw its message pending.
        await completeIfDone(this.dataSource.manager, campaignId);
        return;
      }
    }
  }

  /**
   * Jobs for committed rows. The change is already the record of truth, so a queue failure here
   * (Redis away) does not fail the mutation: the sweeper adds the missing jobs of a SENDING
   * campaign once Redis answers again.
   */
  private async enqueue(campaignId: string, jobs: { messageId: string; seq: number; notBefore?: Date | null }[]): Promise<void> {
    try {
      await this.queue.add(jobs);
    } catch (err) {
      this.logger.warn(`Campaign ${campaignId}: adding ${jobs.length} jobs failed (${err instanceof Error ? err.message : 'error'}); the sweeper will add them`);
    }
  }

  /** Routing refused: PAUSED with the DeliveryErrorCode and the readable reason (not an error). */
  private async hold(id: string, from: CampaignStatus, code: DeliveryErrorCode, reason: string): Promise<CampaignEntity> {
    await this.progress.pause(id, code, reason, from);
    return this.campaigns.findOneByOrFail({ id });
  }
}

async function insertRecipients(tx: EntityManager, campaignId: string, emails: string[]): Promise<void> {
  for (let i = 0; i < emails.length; i += INSERT_BATCH) {
    await tx
      .createQueryBuilder()
      .insert()
      .into(CampaignRecipientEntity)
      .values(emails.slice(i, i + INSERT_BATCH).map((email) => ({ campaignId, email })))
      .orIgnore()
      .updateEntity(false)
      .execute();
  }
}

/** The workers' rule (CampaignProgress), for one campaign inside the caller's transaction. */
async function completeIfDone(tx: EntityManager, campaignId: string): Promise<void> {
  await tx.query(COMPLETE_CAMPAIGN_SQL, [campaignId]);
}

function notDraft(id: string, status: CampaignStatus, what: string): ConflictError {
  const hint = status === CampaignStatus.PAUSED ? ' (resume it with resumeCampaign)' : '';
  return new ConflictError(`Campaign ${id} is ${status}: only a DRAFT campaign can ${what}${hint}`);
}
