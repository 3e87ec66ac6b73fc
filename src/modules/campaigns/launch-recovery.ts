import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import { CampaignsService } from './campaigns.service';

/**
 * A launch whose cursor has not moved for this long has lost its writer (a chunk is written in
 * well under a second); a second writer would be harmless (chunks take the campaign's row lock).
 */
export const LAUNCH_STALE_MS = 30_000;

/**
 * In worker processes, with the sweep's rhythm: finishes campaign launches cut short, so a
 * campaign whose API process died mid-start still gets every message (and can complete).
 */
@Injectable()
export class LaunchRecovery implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(LaunchRecovery.name);
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly campaigns: CampaignsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    const staleMs = Math.min(LAUNCH_STALE_MS, this.config.dispatch.stuckSendingMs);
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = true;
      this.campaigns
        .continueLaunches(staleMs)
        .catch((err: unknown) => this.logger.warn(`Resuming stalled campaign launches failed: ${err instanceof Error ? err.message : 'error'}`))
        .finally(() => (this.running = false));
    }, this.config.dispatch.sweepIntervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }
}
