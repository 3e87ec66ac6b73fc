import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export enum QuotaExhaustedAction {
  WAIT = 'WAIT',
  FAILOVER = 'FAILOVER',
}
export enum Addon {
  CUSTOM_SMTP = 'CUSTOM_SMTP',
}

@Entity('accounts')
export class AccountEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  /** IANA zone; quota windows of this account's servers turn on this clock. */
  @Column({ type: 'varchar', length: 64 })
  timezone!: string;

  /** null: an agency; set: a sub-account of that agency (one level only). */
  @Index()
  @Column({ name: 'parent_id', type: 'uuid', nullable: true })
  parentId!: string | null;

  @ManyToOne(() => AccountEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'parent_id' })
  parent?: AccountEntity | null;

  @Column({ name: 'on_quota_exhausted', type: 'enum', enum: QuotaExhaustedAction, enumName: 'quota_exhausted_action', default: QuotaExhaustedAction.WAIT })
  onQuotaExhausted!: QuotaExhaustedAction;

  @Column({ type: 'text', array: true, default: () => "'{}'" })
  addons!: Addon[];

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt!: Date;
}
