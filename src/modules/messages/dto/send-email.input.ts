import { Field, ID, InputType } from '@nestjs/graphql';
import { Transform, Type } from 'class-transformer';
import { ArrayMaxSize, IsEmail, IsEnum, IsOptional, IsString, IsUUID, Length, Matches, MaxLength, ValidateIf, ValidateNested } from 'class-validator';
import { given, lower } from '../../../infra/input-transforms';
import { MessageSource } from '../message.entity';
import { BodyField, SubjectField } from './message-content.fields';

const EMAIL = (field: string) => ({ message: `${field} must be one email address such as "jane@example.com"` });

@InputType()
export class HeaderInput {
  @Field()
  @Matches(/^[!-9;-~]{1,76}$/, { message: 'name must be a header name (printable characters, no colon or space)' })
  name!: string;

  @Field()
  @IsString()
  @MaxLength(2000, { message: 'value must be at most 2000 characters' })
  // A line break would let a value add headers of its own.
  @Matches(/^[^\r\n]*$/, { message: 'value must not contain line breaks' })
  value!: string;
}

@InputType()
export class SendEmailInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'accountId must be an account id' })
  accountId!: string;

  @Field(() => String, { nullable: true, description: "Omitted only for REMINDER: the routed server's testEmail is used." })
  @Transform(lower)
  @ValidateIf(given)
  @IsEmail({}, EMAIL('from'))
  from?: string | null;

  @Field()
  @Transform(lower)
  @IsEmail({}, EMAIL('to'))
  to!: string;

  @Field(() => String, { nullable: true })
  @Transform(lower)
  @ValidateIf(given)
  @IsEmail({}, EMAIL('replyTo'))
  replyTo?: string | null;

  @SubjectField()
  subject!: string;

  @BodyField('html')
  html?: string | null;

  @BodyField('text')
  text?: string | null;

  @Field(() => [HeaderInput], { nullable: true })
  @IsOptional()
  @ArrayMaxSize(50, { message: 'headers must be at most 50' })
  @ValidateNested({ each: true })
  @Type(() => HeaderInput)
  headers?: HeaderInput[] | null;

  @Field(() => MessageSource, { nullable: true })
  @IsOptional()
  @IsEnum(MessageSource)
  source?: MessageSource | null;

  @Field(() => String, { nullable: true, description: 'Same key, same account: the same Message comes back and nothing is sent twice.' })
  @ValidateIf(given)
  @IsString()
  @Length(1, 255, { message: 'idempotencyKey must be 1 to 255 characters' })
  idempotencyKey?: string | null;
}
