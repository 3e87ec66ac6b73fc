import { Field, InputType, Int } from '@nestjs/graphql';
import { IsInt, Max, Min, ValidateIf } from 'class-validator';

/** The largest limit accepted: far above any provider's real quota, well inside GraphQL Int. */
export const MAX_QUOTA_LIMIT = 10_000_000;

/** Validation of one limit: left out (unchanged), null (unlimited) or 1..MAX_QUOTA_LIMIT. */
function QuotaLimit(field: string): PropertyDecorator {
  const message = `${field} must be a positive whole number or null`;
  return (target, property) => {
    ValidateIf((_o: unknown, value: unknown) => value !== null && value !== undefined)(target, property);
    IsInt({ message })(target, property);
    Min(1, { message })(target, property);
    Max(MAX_QUOTA_LIMIT, { message: `${field} must be at most 10,000,000 (null for unlimited)` })(target, property);
  };
}

/**
 * Limits per window (CONTRACT.md §3 `QuotaInput`). On update a field left out keeps its value
 * and an explicit null makes the window unlimited.
 */
@InputType()
export class QuotaInput {
  @Field(() => Int, { nullable: true })
  @QuotaLimit('hourly')
  hourly?: number | null;

  @Field(() => Int, { nullable: true })
  @QuotaLimit('daily')
  daily?: number | null;

  @Field(() => Int, { nullable: true })
  @QuotaLimit('monthly')
  monthly?: number | null;
}
