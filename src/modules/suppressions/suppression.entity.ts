import { Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { AccountEntity } from '../accounts/account.entity';

export enum SuppressionReason {
  HARD_BOUNCE = 'HARD_BOUNCE',
  COMPLAINT = 'COMPLAINT',
  MANUAL = 'MANUAL',
}

/** An address the account must not send to (a hard bounce, a complaint, or added by hand). */
@Entity('suppressions')
export class SuppressionEntity {
  @PrimaryColumn({ name: 'account_id', type: 'uuid' })
  accountId!: string;

  /** Lower-cased. */
  @PrimaryColumn({ type: 'varchar', length: 320 })
  email!: string;

  @ManyToOne(() => AccountEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'account_id' })
  account?: AccountEntity;

  @Column({ type: 'enum', enum: SuppressionReason, enumName: 'suppression_reason' })
  reason!: SuppressionReason;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt!: Date;
}
