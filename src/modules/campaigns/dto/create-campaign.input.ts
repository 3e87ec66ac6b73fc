import { Field, ID, InputType } from '@nestjs/graphql';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsEmail, IsString, IsUUID, Length, MaxLength } from 'class-validator';
import { lower, trim } from '../../../infra/input-transforms';
import { BodyField, SubjectField } from '../../messages/dto/message-content.fields';
import { MAX_RECIPIENTS_PER_CALL } from '../recipients';


@InputType()
export class CreateCampaignInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'accountId must be an account id' })
  accountId!: string;

  @Field()
  @Transform(trim)
  @IsString()
  @Length(1, 200, { message: 'name must be 1 to 200 characters' })
  name!: string;

  @Field()
  @Transform(lower)
  @IsEmail({}, { message: 'from must be one email address such as "news@brand.example"' })
  @MaxLength(320, { message: 'from must be at most 320 characters' })
  from!: string;

  @SubjectField()
  subject!: string;

  @BodyField('html')
  html?: string | null;

  @BodyField('text')
  text?: string | null;

  /** Checked address by address in the service, so the error can name the bad ones. */
  @Field(() => [String])
  @IsArray()
  @ArrayMaxSize(MAX_RECIPIENTS_PER_CALL, { message: `recipients must be at most ${MAX_RECIPIENTS_PER_CALL.toLocaleString('en-US')} per call (add more with addCampaignRecipients)` })
  @IsString({ each: true })
  recipients!: string[];
}
