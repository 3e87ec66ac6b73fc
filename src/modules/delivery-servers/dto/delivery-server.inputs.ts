import { Field, ID, InputType, Int } from '@nestjs/graphql';
import { Transform, Type } from 'class-transformer';
import { IsEmail, IsEnum, IsFQDN, IsInt, IsOptional, IsString, IsUUID, Length, Matches, Max, MaxLength, Min, ValidateIf, ValidateNested } from 'class-validator';
import { DeliveryProvider } from '../../../providers/provider.enums';
import { QuotaInput } from '../../quota/dto/quota.input';
import { given, lower, trim } from '../../../infra/input-transforms';
import { ServerCredentialsInput } from './credentials.inputs';

// Optional fields validate only when a value is given (`given`): undefined leaves them out, and an
// explicit null passes as "clear".

export const MAX_PAUSE_MS = 3_600_000;
const PAUSE_MESSAGE = `pauseMs must be a whole number of milliseconds from 0 to ${MAX_PAUSE_MS}`;
const EMAIL_MESSAGE = (field: string): string => `${field} must be an email address such as "news@example.com"`;
const DOMAIN_MESSAGE = 'sendingDomain must be a domain name such as "example.com"';
// IsFQDN checks each label's length, not the name's: a longer name would pass and then break the column.
const MAX_DOMAIN_LENGTH = 253;
const DOMAIN_LENGTH_MESSAGE = `sendingDomain must be at most ${MAX_DOMAIN_LENGTH} characters long`;
const IP_POOL_MESSAGE = 'ipPool must be 1-64 letters, digits, "_" or "-"';

@InputType()
export class CreateDeliveryServerInput {
  @Field(() => ID, { nullable: true, description: 'Omit (ADMIN only) for a platform server.' })
  @IsOptional()
  @IsUUID('all', { message: 'accountId must be an account id' })
  accountId?: string | null;

  @Field()
  @Transform(trim)
  @IsString()
  @Length(1, 200, { message: 'name must be 1 to 200 characters' })
  name!: string;

  @Field(() => DeliveryProvider)
  @IsEnum(DeliveryProvider)
  provider!: DeliveryProvider;

  @Field(() => ServerCredentialsInput)
  @ValidateNested()
  @Type(() => ServerCredentialsInput)
  credentials!: ServerCredentialsInput;

  @Field(() => String, { nullable: true })
  @Transform(lower)
  @ValidateIf(given)
  @IsEmail({}, { message: EMAIL_MESSAGE('senderAddress') })
  senderAddress?: string | null;

  @Field(() => String, { nullable: true })
  @Transform(lower)
  @ValidateIf(given)
  @IsFQDN({}, { message: DOMAIN_MESSAGE })
  @MaxLength(MAX_DOMAIN_LENGTH, { message: DOMAIN_LENGTH_MESSAGE })
  sendingDomain?: string | null;

  @Field(() => QuotaInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => QuotaInput)
  quota?: QuotaInput | null;

  @Field(() => Int, { nullable: true })
  @ValidateIf(given)
  @IsInt({ message: PAUSE_MESSAGE })
  @Min(0, { message: PAUSE_MESSAGE })
  @Max(MAX_PAUSE_MS, { message: PAUSE_MESSAGE })
  pauseMs?: number | null;

  @Field(() => String, { nullable: true })
  @ValidateIf(given)
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: IP_POOL_MESSAGE })
  ipPool?: string | null;
}

@InputType()
export class UpdateDeliveryServerInput {
  @Field({ nullable: true })
  @Transform(trim)
  @ValidateIf((_o, v) => v !== undefined)
  @IsString({ message: 'name must be 1 to 200 characters' })
  @Length(1, 200, { message: 'name must be 1 to 200 characters' })
  name?: string;

  @Field(() => ServerCredentialsInput, { nullable: true })
  @ValidateIf((_o, v) => v !== undefined)
  @ValidateNested()
  @Type(() => ServerCredentialsInput)
  credentials?: ServerCredentialsInput;

  @Field(() => String, { nullable: true })
  @Transform(lower)
  @ValidateIf(given)
  @IsEmail({}, { message: EMAIL_MESSAGE('senderAddress') })
  senderAddress?: string | null;

  @Field(() => String, { nullable: true })
  @Transform(lower)
  @ValidateIf(given)
  @IsFQDN({}, { message: DOMAIN_MESSAGE })
  @MaxLength(MAX_DOMAIN_LENGTH, { message: DOMAIN_LENGTH_MESSAGE })
  sendingDomain?: string | null;

  @Field(() => QuotaInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => QuotaInput)
  quota?: QuotaInput | null;

  @Field(() => Int, { nullable: true })
  @ValidateIf((_o, v) => v !== undefined)
  @IsInt({ message: PAUSE_MESSAGE })
  @Min(0, { message: PAUSE_MESSAGE })
  @Max(MAX_PAUSE_MS, { message: PAUSE_MESSAGE })
  pauseMs?: number;

  @Field(() => String, { nullable: true })
  @ValidateIf(given)
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: IP_POOL_MESSAGE })
  ipPool?: string | null;
}
