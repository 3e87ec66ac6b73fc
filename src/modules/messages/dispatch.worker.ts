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

  constructor(
    private readonly dispatchQueue: DispatchQueue,
    private readonly dispatch: DispatchService,
    private readonly sweeper: Sweeper,
    private readonly unrecorded: UnrecordedSends,
    private readonly campaigns: CampaignProgress,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    void this.dispatchQueue.queue.process(this.config.workerConcurrency, (job) => this.dispatch.process(job.data));
    // A job that throws is dropped by Bull (the message row stays pending for the sweeper): say so.
    this.dispatchQueue.queue.on('failed', (job, err) => this.logger.warn(`Dispatch of message ${job.data.messageId} failed and waits for the sweeper: ${err.message.slice(0, 300)}`));
    this.sweepTimer = setInterval(() => {
      this.sweeper.sweep().catch((err: unknown) => this.logger.warn(`Sweep failed: ${err instanceof Error ? err.message : 'error'}`));
      this.campaigns.completeFinished().catch((err: unknown) => this.logger.warn(`Campaign completion sweep failed: ${err instanceof Error ? err.message : 'error'}`));
    }, this.config.dispatch.sweepIntervalMs);
    this.sweepTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
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
