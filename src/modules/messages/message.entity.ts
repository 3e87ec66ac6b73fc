import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { TransportKind } from '../../providers/provider.enums';
import type { MessageHeader } from '../../providers/provider.types';
import { AccountEntity } from '../accounts/account.entity';
import { CampaignEntity } from '../campaigns/campaign.entity';
import { DeliveryServerEntity } from '../delivery-servers/delivery-server.entity';

export enum MessageSource {
  CAMPAIGN = 'CAMPAIGN',
  ONE_OFF = 'ONE_OFF',
  AUTOMATION = 'AUTOMATION',
  REMINDER = 'REMINDER',
  TEST = 'TEST',
}
export enum MessageStatus {
  QUEUED = 'QUEUED',
  DEFERRED = 'DEFERRED',
  SENDING = 'SENDING',
  SENT = 'SENT',
  DELIVERED = 'DELIVERED',
  FAILED = 'FAILED',
  BOUNCED = 'BOUNCED',
  COMPLAINED = 'COMPLAINED',
  SUPPRESSED = 'SUPPRESSED',
  REJECTED = 'REJECTED',
}
export enum MessageEventType {
  QUEUED = 'QUEUED',
  ROUTED = 'ROUTED',
  DEFERRED = 'DEFERRED',
  SENT = 'SENT',
  DELIVERED = 'DELIVERED',
  SOFT_BOUNCE = 'SOFT_BOUNCE',
  HARD_BOUNCE = 'HARD_BOUNCE',
  COMPLAINT = 'COMPLAINT',
  FAILED = 'FAILED',
  REJECTED = 'REJECTED',
}

/** Statuses the worker still has to act on; the sweeper re-queues these when their job is gone. */
export const PENDING_STATUSES = [MessageStatus.QUEUED, MessageStatus.DEFERRED, MessageStatus.SENDING];

export interface StoredDeliveryError {
  code: string;
  message: string;
  transport: TransportKind | null;
  smtpResponseCode: number | null;
  providerStatus: number | null;
  step: string | null;
}

/** The record of truth for one email (an outbox row): committed before its job exists. */
@Entity('messages')
@Index('IDX_messages_account_created', ['accountId', 'createdAt', 'id'])
@Index('IDX_messages_pending', ['status', 'nextAttemptAt'], { where: `"status" IN ('QUEUED', 'DEFERRED', 'SENDING')` })
// Makes "is any message of this campaign still pending?" cheap for the completion check.
@Index('IDX_messages_campaign_pending', ['campaignId'], { where: `"status" IN ('QUEUED', 'DEFERRED', 'SENDING')` })
@Index('IDX_messages_server_sent', ['serverId', 'sentAt'], { where: `"sent_at" IS NOT NULL` })
// The mail waiting for one server (MessageStore.waitingFor: the server paused, deleted, its limits
// changed), without reading every server's pending mail. Mail is queued before it has a server,
// so only waits (deferrals) and re-queued mail write to it.
@Index('IDX_messages_server_waiting', ['serverId'], { where: `"status" IN ('QUEUED', 'DEFERRED') AND "server_id" IS NOT NULL` })
// The complaint auto-pause counts a server's complained messages in the window without reading the others.
@Index('IDX_messages_server_complained', ['serverId', 'sentAt', 'id'], { where: `"status" = 'COMPLAINED'` })
@Index('UQ_messages_idempotency', ['accountId', 'idempotencyKey'], { unique: true, where: `"idempotency_key" IS NOT NULL` })
// `messages(status: FAILED)` and the like, newest first, without walking an account's whole
// history for its few problems. Partial: a message sent without waiting (QUEUED, SENDING, SENT,
// DELIVERED) never writes to it; each deferral (quota, pacing, retry) adds an entry.
@Index('IDX_messages_account_problems', ['accountId', 'status', 'createdAt', 'id'], {
  where: `"status" IN ('DEFERRED', 'FAILED', 'BOUNCED', 'COMPLAINED', 'SUPPRESSED', 'REJECTED')`,
})
export class MessageEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'account_id', type: 'uuid' })
  accountId!: string;

  @ManyToOne(() => AccountEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'account_id' })
  account?: AccountEntity;

  @Index()
  @Column({ name: 'campaign_id', type: 'uuid', nullable: true })
  campaignId!: string | null;

  @ManyToOne(() => CampaignEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'campaign_id' })
  campaign?: CampaignEntity | null;

  @Column({ type: 'enum', enum: MessageSource, enumName: 'message_source' })
  source!: MessageSource;

  @Column({ name: 'from_address', type: 'varchar', length: 320 })
  from!: string;

  @Column({ name: 'to_address', type: 'varchar', length: 320 })
  to!: string;

  @Column({ name: 'reply_to', type: 'varchar', length: 320, nullable: true })
  replyTo!: string | null;

  @Column({ type: 'varchar', length: 998 })
  subject!: string;

  @Column({ type: 'text', nullable: true })
  html!: string | null;

  @Column({ type: 'text', nullable: true })
  text!: string | null;

  @Column({ type: 'jsonb', nullable: true })
  headers!: MessageHeader[] | null;

  @Column({ type: 'enum', enum: MessageStatus, enumName: 'message_status', default: MessageStatus.QUEUED })
  status!: MessageStatus;

  @Column({ name: 'server_id', type: 'uuid', nullable: true })
  serverId!: string | null;

  @ManyToOne(() => DeliveryServerEntity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'server_id' })
  server?: DeliveryServerEntity | null;

  @Column({ type: 'enum', enum: TransportKind, enumName: 'transport_kind', nullable: true })
  transport!: TransportKind | null;

  @Index()
  @Column({ name: 'provider_message_id', type: 'varchar', length: 255, nullable: true })
  providerMessageId!: string | null;

  /** Sends attempted (a deferral for quota or pacing is not an attempt). */
  @Column({ type: 'int', default: 0 })
  attempts!: number;

  /** Bumped whenever a new job is scheduled: the job id is `${id}:${dispatchSeq}`, so a stale job finds a newer seq and does nothing. */
  @Column({ name: 'dispatch_seq', type: 'int', default: 0 })
  dispatchSeq!: number;

  @Column({ name: 'next_attempt_at', type: 'timestamptz', precision: 3, nullable: true })
  nextAttemptAt!: Date | null;

  @Column({ type: 'jsonb', nullable: true })
  error!: StoredDeliveryError | null;

  @Column({ name: 'idempotency_key', type: 'varchar', length: 255, nullable: true })
  idempotencyKey!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @Column({ name: 'sent_at', type: 'timestamptz', precision: 3, nullable: true })
  sentAt!: Date | null;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt!: Date;
}

@Entity('message_events')
@Index('IDX_message_events_message', ['messageId', 'id'])
@Index('UQ_message_events_external', ['messageId', 'externalId'], { unique: true, where: '"external_id" IS NOT NULL' })
// A server's complaints by time, for the complaint auto-pause (ServerReputationService).
@Index('IDX_message_events_server_complaints', ['serverId', 'occurredAt', 'messageId'], { where: `"type" = 'COMPLAINT'` })
export class MessageEventEntity {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  @Column({ name: 'message_id', type: 'uuid' })
  messageId!: string;

  @ManyToOne(() => MessageEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'message_id' })
  message?: MessageEntity;

  @Column({ type: 'enum', enum: MessageEventType, enumName: 'message_event_type' })
  type!: MessageEventType;

  @Column({ name: 'occurred_at', type: 'timestamptz', precision: 3, default: () => 'now()' })
  occurredAt!: Date;

  @Column({ type: 'varchar', length: 1000, nullable: true })
  detail!: string | null;

  @Column({ name: 'server_id', type: 'uuid', nullable: true })
  serverId!: string | null;

  /** Provider event id (webhooks): the same event delivered twice is stored once. */
  @Column({ name: 'external_id', type: 'varchar', length: 255, nullable: true })
  externalId!: string | null;
}
