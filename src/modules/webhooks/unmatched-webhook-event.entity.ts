import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { DeliveryProvider } from '../../providers/provider.enums';
import { DeliveryServerEntity } from '../delivery-servers/delivery-server.entity';
import { MessageEventType } from '../messages/message.entity';

/**
 * A verified webhook event whose provider message id matches no message of its server: posted
 * before its message's SENT record stored that id (EarlyWebhookEvents applies it once it does,
 * within two hours, and removes it from here), or for mail sent outside mailroute with the same
 * credentials or a message since deleted (kept for audit for UNMATCHED_EVENT_RETENTION_DAYS, never
 * acted on). The same provider event is stored once per server.
 */
@Entity('webhook_events_unmatched')
@Index('UQ_webhook_events_unmatched_external', ['serverId', 'externalId'], { unique: true })
// EarlyWebhookEvents claims the ones due for another look every sweep.
@Index('IDX_webhook_events_unmatched_recheck', ['recheckAt'], { where: '"recheck_at" IS NOT NULL' })
export class UnmatchedWebhookEventEntity {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  @Column({ name: 'server_id', type: 'uuid' })
  serverId!: string;

  @ManyToOne(() => DeliveryServerEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'server_id' })
  server?: DeliveryServerEntity;

  @Column({ type: 'enum', enum: DeliveryProvider, enumName: 'delivery_provider' })
  provider!: DeliveryProvider;

  @Column({ type: 'enum', enum: MessageEventType, enumName: 'message_event_type' })
  kind!: MessageEventType;

  @Column({ name: 'provider_message_id', type: 'varchar', length: 255, nullable: true })
  providerMessageId!: string | null;

  @Column({ type: 'varchar', length: 320, nullable: true })
  recipient!: string | null;

  /** Provider event id (or its hash when longer than 255): the dedupe key with server_id. */
  @Column({ name: 'external_id', type: 'varchar', length: 255 })
  externalId!: string;

  @Column({ name: 'occurred_at', type: 'timestamptz', precision: 3 })
  occurredAt!: Date;

  @Column({ type: 'varchar', length: 1000, nullable: true })
  detail!: string | null;

  @CreateDateColumn({ name: 'received_at', type: 'timestamptz', precision: 3 })
  receivedAt!: Date;

  /** When EarlyWebhookEvents looks for its message again; null: never (too old, or no provider id). */
  @Column({ name: 'recheck_at', type: 'timestamptz', precision: 3, nullable: true })
  recheckAt!: Date | null;
}
