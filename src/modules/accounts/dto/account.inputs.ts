import { Field, ID, InputType } from '@nestjs/graphql';
import { IsEnum, IsOptional, IsString, IsUUID, Length, ValidateIf } from 'class-validator';
import { Transform } from 'class-transformer';
import { trim } from '../../../infra/input-transforms';
import { IsIanaTimeZone } from '../../../infra/validation';
import { QuotaExhaustedAction } from '../account.entity';

@InputType()
export class CreateAccountInput {
  @Field()
  @Transform(trim)
  @IsString()
  @Length(1, 200, { message: 'name must be 1 to 200 characters' })
  name!: string;

  @Field()
  @IsIanaTimeZone()
  timezone!: string;

  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsUUID('all', { message: 'parentId must be an account id' })
  parentId?: string | null;

  @Field(() => QuotaExhaustedAction, { nullable: true })
  @IsOptional()
  @IsEnum(QuotaExhaustedAction)
  onQuotaExhausted?: QuotaExhaustedAction | null;
}

@InputType()
export class UpdateAccountInput {
  @Field({ nullable: true })
  @Transform(trim)
  // An explicit null is refused: name, timezone and the action are required settings.
  @ValidateIf((_o, v) => v !== undefined)
  @IsString({ message: 'name must be a non-empty string' })
  @Length(1, 200, { message: 'name must be 1 to 200 characters' })
  name?: string;

  @Field({ nullable: true })
  @ValidateIf((_o, v) => v !== undefined)
  @IsIanaTimeZone()
  timezone?: string;

  @Field(() => QuotaExhaustedAction, { nullable: true })
  @ValidateIf((_o, v) => v !== undefined)
  @IsEnum(QuotaExhaustedAction, { message: 'onQuotaExhausted must be WAIT or FAILOVER' })
  onQuotaExhausted?: QuotaExhaustedAction;
}

@InputType()
export class CreateApiTokenInput {
  @Field()
  @Transform(trim)
  @IsString()
  @Length(1, 200, { message: 'name must be 1 to 200 characters' })
  name!: string;

  @Field(() => ID, { nullable: true, description: 'Omit (ADMIN only) for an ADMIN token.' })
  @IsOptional()
  @IsUUID('all', { message: 'accountId must be an account id' })
  accountId?: string | null;
}
