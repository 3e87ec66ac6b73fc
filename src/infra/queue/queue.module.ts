import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config/configuration';

/** Bull on REDIS_URL, every key under REDIS_PREFIX. Queue names and job options live in queue.constants.ts. */
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({ url: config.redis.url, prefix: `${config.redis.prefix}:bull` }),
    }),
  ],
  exports: [BullModule],
})
export class QueueModule {}

/** Whether this process runs queue processors (ROLE=worker|all). */
export const runsWorkers = (config: AppConfig): boolean => config.role !== 'api';
/** Whether this process serves the API (ROLE=api|all); a worker serves health only. */
export const servesApi = (config: AppConfig): boolean => config.role !== 'worker';
