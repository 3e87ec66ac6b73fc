import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DISPATCH_QUEUE, DispatchQueue } from './dispatch-queue';
import { MessageEntity, MessageEventEntity } from './message.entity';
import { MessageStore } from './message-store';
import { Sweeper } from './sweeper';

/**
 * The message record and the dispatch queue, importable by any module that creates messages
 * (campaigns) without pulling in the worker: `imports: [MessagesCoreModule]`.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([MessageEntity, MessageEventEntity]),
    BullModule.registerQueue({
      name: DISPATCH_QUEUE,
      // The lock outlasts the slowest send (provider timeouts are well under a minute), so a
      // job in progress is never handed to a second worker.
      settings: { lockDuration: 120_000, lockRenewTime: 30_000, stalledInterval: 30_000, maxStalledCount: 2 },
    }),
  ],
  providers: [DispatchQueue, MessageStore, Sweeper],
  exports: [DispatchQueue, MessageStore, Sweeper],
})
export class MessagesCoreModule {}
