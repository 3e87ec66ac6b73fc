import { Field, ID, InputType } from '@nestjs/graphql';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsEmail, IsString, IsUUID, Length, Matches, MaxLength, ValidateIf } from 'class-validator';
import { MAX_RECIPIENTS_PER_CALL } from '../recipients';

const lower = ({ value }: { value: unknown }): unknown => (typeof value === 'string' ? value.trim().toLowerCase() : value);
const given = (_o: object, v: unknown): boolean => v !== undefined && v !== null;

@InputType()
export class CreateCampaignInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'accountId must be an account id' })
  accountId!: string;

  @Field()
  @IsString()
  @Length(1, 200, { message: 'name must be 1 to 200 characters' })
  name!: string;

  @Field()
  @Transform(lower)
  @IsEmail({}, { message: 'from must be one email address such as "news@brand.example"' })
  @MaxLength(320, { message: 'from must be at most 320 characters' })
  from!: string;

  @Field()
  @IsString()
  @Length(1, 998, { message: 'subject must be 1 to 998 characters' })
  // A line break would let the subject add headers of its own.
  @Matches(/^[^\r\n]*$/, { message: 'subject must not contain line breaks' })
  subject!: string;

  @Field(() => String, { nullable: true })
  @ValidateIf(given)
  @IsString()
  @MaxLength(2_000_000, { message: 'html must be at most 2,000,000 characters' })
  html?: string | null;

  @Field(() => String, { nullable: true })
  @ValidateIf(given)
  @IsString()
  @MaxLength(2_000_000, { message: 'text must be at most 2,000,000 characters' })
  text?: string | null;

  /** Checked address by address in the service, so the error can name the bad ones. */
  @Field(() => [String])
  @IsArray()
  @ArrayMaxSize(MAX_RECIPIENTS_PER_CALL, { message: `recipients must be at most ${MAX_RECIPIENTS_PER_CALL.toLocaleString('en-US')} per call (add more with addCampaignRecipients)` })
  @IsString({ each: true })
  recipients!: string[];
}
