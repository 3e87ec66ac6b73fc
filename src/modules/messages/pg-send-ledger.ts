import { Global, Injectable, Module } from '@nestjs/common';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { SEND_LEDGER, type SendLedger } from '../quota/send-ledger';
import { MessageEntity } from './message.entity';

/** Quota counters lost with Redis are rebuilt from here: every send is a row with its server and sent time. */
@Injectable()
export class PgSendLedger implements SendLedger {
  constructor(@InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>) {}

  async countSends(serverId: string, from: Date, to: Date): Promise<number> {
    return this.messages
      .createQueryBuilder('m')
      .where('m.server_id = :serverId AND m.sent_at >= :from AND m.sent_at < :to', { serverId, from, to })
      .getCount();
  }
}

/** Global so QuotaModule (imported plainly everywhere) finds the ledger without importing messages. */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([MessageEntity])],
  providers: [PgSendLedger, { provide: SEND_LEDGER, useExisting: PgSendLedger }],
  exports: [SEND_LEDGER],
})
export class SendLedgerModule {}
