import { Field, Int, ObjectType } from '@nestjs/graphql';

/** A server's limits (CONTRACT.md §3 `Quota`). */
@ObjectType('Quota', { description: 'null: unlimited.' })
export class QuotaModel {
  @Field(() => Int, { nullable: true }) hourly!: number | null;
  @Field(() => Int, { nullable: true }) daily!: number | null;
  @Field(() => Int, { nullable: true }) monthly!: number | null;
}

/** One current window of a server's quota (CONTRACT.md §3 `QuotaWindow`). */
@ObjectType('QuotaWindow')
export class QuotaWindowModel {
  @Field(() => Int) used!: number;
  @Field(() => Int, { nullable: true }) limit!: number | null;
  @Field(() => Int, { nullable: true }) remaining!: number | null;
  @Field(() => Date) resetsAt!: Date;
}

/** `DeliveryServer.usage` (CONTRACT.md §3 `QuotaUsage`); QuotaService.usage returns this shape. */
@ObjectType('QuotaUsage')
export class QuotaUsageModel {
  @Field() timezone!: string;
  @Field(() => QuotaWindowModel) hourly!: QuotaWindowModel;
  @Field(() => QuotaWindowModel) daily!: QuotaWindowModel;
  @Field(() => QuotaWindowModel) monthly!: QuotaWindowModel;
}
