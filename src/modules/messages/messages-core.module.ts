import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import { DISPATCH_QUEUE, DispatchQueue } from './dispatch-queue';
import { MessageEntity, MessageEventEntity } from './message.entity';
import { MessageStore } from './message-store';
import { Sweeper } from './sweeper';

/** How often a worker looks for jobs whose lock lapsed (their worker died), at most. */
const MAX_STALLED_INTERVAL_MS = 30_000;

/**
 * The message record and the dispatch queue, importable by any module that creates messages
 * (campaigns) without pulling in the worker: `imports: [MessagesCoreModule]`.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([MessageEntity, MessageEventEntity]),
    BullModule.registerQueueAsync({
      name: DISPATCH_QUEUE,
      inject: [APP_CONFIG],
      // The lock (QUEUE_LOCK_MS) outlasts the slowest send (an API call's HTTP timeout; an SMTP
      // conversation's deadline, 80 s by default) and is renewed four times per period, so a job
      // in progress is never handed to a second worker; a dead worker's jobs are found stalled
      // within one more check interval.
      useFactory: (config: AppConfig) => {
        const lockDuration = config.dispatch.queueLockMs;
        return {
          settings: {
            lockDuration,
            lockRenewTime: Math.floor(lockDuration / 4),
            stalledInterval: Math.min(lockDuration, MAX_STALLED_INTERVAL_MS),
            maxStalledCount: 2,
          },
        };
      },
    }),
  ],
  providers: [DispatchQueue, MessageStore, Sweeper],
  exports: [DispatchQueue, MessageStore, Sweeper],
})
export class MessagesCoreModule {}
