import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import { CampaignProgress } from '../campaigns/campaign-progress';
import { DispatchQueue } from './dispatch-queue';
import { DispatchService } from './dispatch.service';
import { Sweeper } from './sweeper';
import { UnrecordedSends } from './unrecorded-sends';

/**
 * The queue worker of a ROLE=worker|all process: WORKER_CONCURRENCY jobs at once, plus the
 * sweeper. On shutdown it stops taking jobs, lets the ones in progress finish and waits for their
 * SENT records.
 */
@Injectable()
export class DispatchWorker implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(DispatchWorker.name);
  private sweepTimer?: NodeJS.Timeout;
  private stopping = false;
  private processing = false;

  constructor(
    private readonly dispatchQueue: DispatchQueue,
    private readonly dispatch: DispatchService,
    private readonly sweeper: Sweeper,
    private readonly unrecorded: UnrecordedSends,
    private readonly campaigns: CampaignProgress,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.startWhenRedisIsReady();
    // A job that throws is dropped by Bull (the message row stays pending for the sweeper): say so.
    this.dispatchQueue.queue.on('failed', (job, err) => this.logger.warn(`Dispatch of message ${job.data.messageId} failed and waits for the sweeper: ${err.message.slice(0, 300)}`));
    this.sweepTimer = setInterval(() => {
      this.sweeper.sweep().catch((err: unknown) => this.logger.warn(`Sweep failed: ${err instanceof Error ? err.message : 'error'}`));
      this.campaigns.completeFinished().catch((err: unknown) => this.logger.warn(`Campaign completion sweep failed: ${err instanceof Error ? err.message : 'error'}`));
    }, this.config.dispatch.sweepIntervalMs);
    this.sweepTimer.unref();
  }

  /**
   * Bull's `process()` starts promises of its own that wait for the queue's Redis clients to be
   * ready and reject, where nothing can observe them, when a client ends first: a worker stopped
   * while Redis was away (or never answered) ended with an unhandled rejection. So processing
   * starts only once the command and the blocking client are both ready.
   */
  private startWhenRedisIsReady(): void {
    const queue = this.dispatchQueue.queue;
    // `bclient` (the blocking client jobs are taken with) is missing from Bull's type declarations.
    const clients = [queue.client, (queue as typeof queue & { bclient: typeof queue.client }).bclient];
    const start = (): void => {
      if (this.stopping || this.processing || clients.some((client) => client.status !== 'ready')) return;
      this.processing = true;
      for (const client of clients) client.off('ready', start);
      queue.process(this.config.workerConcurrency, (job) => this.dispatch.process(job.data)).catch((err: unknown) => {
        if (!this.stopping) this.logger.error(`The dispatch worker stopped taking jobs: ${err instanceof Error ? err.message : 'error'}`);
      });
    };
    for (const client of clients) client.on('ready', start);
    this.stopWaitingForRedis = () => clients.forEach((client) => client.off('ready', start));
    start();
  }

  private stopWaitingForRedis = (): void => undefined;

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.stopWaitingForRedis();
    clearInterval(this.sweepTimer);
    // Waits for the jobs in progress; no new ones are taken. Then for the SENT records still
    // being written: a message the provider accepted must not be left SENDING by a clean stop.
    await this.dispatchQueue.queue.close();
    if (this.unrecorded.size) this.logger.log(`Waiting for ${this.unrecorded.size} SENT record(s) to be written`);
    await this.unrecorded.drain();
    // The completion checks those records started may not have run: a campaign they finished
    // completes now rather than at some other worker's next sweep.
    await this.campaigns.completeFinished().catch((err: unknown) => this.logger.warn(`Campaign completion at shutdown failed: ${err instanceof Error ? err.message : 'error'}`));
  }
}
