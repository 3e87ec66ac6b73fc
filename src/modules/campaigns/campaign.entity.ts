import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { AccountEntity } from '../accounts/account.entity';

export enum CampaignStatus {
  DRAFT = 'DRAFT',
  SENDING = 'SENDING',
  PAUSED = 'PAUSED',
  COMPLETED = 'COMPLETED',
}

@Entity('campaigns')
@Index('IDX_campaigns_account_created', ['accountId', 'createdAt', 'id'])
// The workers' periodic checks (COMPLETED, and launches to finish) look only at campaigns still
// sending or launching: small partial indexes, instead of reading every campaign ever sent.
@Index('IDX_campaigns_sending', ['id'], { where: `"status" = 'SENDING'` })
@Index('IDX_campaigns_launching', ['updatedAt'], { where: '"launch_cursor" IS NOT NULL' })
export class CampaignEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'account_id', type: 'uuid' })
  accountId!: string;

  @ManyToOne(() => AccountEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'account_id' })
  account?: AccountEntity;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ name: 'from_address', type: 'varchar', length: 320 })
  from!: string;

  @Column({ type: 'varchar', length: 998 })
  subject!: string;

  @Column({ type: 'text', nullable: true })
  html!: string | null;

  @Column({ type: 'text', nullable: true })
  text!: string | null;

  @Column({ type: 'enum', enum: CampaignStatus, enumName: 'campaign_status', default: CampaignStatus.DRAFT })
  status!: CampaignStatus;

  @Column({ name: 'pause_reason', type: 'varchar', length: 1000, nullable: true })
  pauseReason!: string | null;

  /** A DeliveryErrorCode (NO_ROUTE, SENDER_NOT_VERIFIED) when the system paused it. */
  @Column({ name: 'pause_code', type: 'varchar', length: 64, nullable: true })
  pauseCode!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt!: Date;

  @Column({ name: 'started_at', type: 'timestamptz', precision: 3, nullable: true })
  startedAt!: Date | null;

  @Column({ name: 'completed_at', type: 'timestamptz', precision: 3, nullable: true })
  completedAt!: Date | null;

  /**
   * While startCampaign turns recipients into messages (a chunk per transaction, in email order):
   * the last recipient that has its message ('' before the first chunk). NULL once every
   * recipient has one, or before the start. A campaign is never COMPLETED while it is set.
   */
  @Column({ name: 'launch_cursor', type: 'varchar', length: 320, nullable: true })
  launchCursor!: string | null;
}

/** A DRAFT campaign's audience; startCampaign turns each row into a message. */
@Entity('campaign_recipients')
export class CampaignRecipientEntity {
  @PrimaryColumn({ name: 'campaign_id', type: 'uuid' })
  campaignId!: string;

  /** Lower-cased, de-duplicated. */
  @PrimaryColumn({ type: 'varchar', length: 320 })
  email!: string;

  @ManyToOne(() => CampaignEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'campaign_id' })
  campaign?: CampaignEntity;
}
