import { Global, Injectable, Module } from '@nestjs/common';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { type LedgerCount, SEND_LEDGER, type SendLedger } from '../quota/send-ledger';
import { MessageEntity } from './message.entity';

/** Quota counters lost with Redis are rebuilt from here: every send is a row with its server and sent time (when its attempt began). */
@Injectable()
export class PgSendLedger implements SendLedger {
  constructor(@InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>) {}

  async countSends(serverId: string, from: Date, to: Date): Promise<LedgerCount> {
    const [row] = await this.messages.query<{ sends: number; at: Date }[]>(
      'SELECT count(*)::int AS sends, clock_timestamp() AS at FROM messages WHERE server_id = $1 AND sent_at >= $2 AND sent_at < $3',
      [serverId, from, to],
    );
    return row;
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
