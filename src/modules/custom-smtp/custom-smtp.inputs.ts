import { Field, ID, InputType, registerEnumType } from '@nestjs/graphql';
import { Transform, Type } from 'class-transformer';
import { IsEmail, IsEnum, IsOptional, IsString, IsUUID, Length, Matches, ValidateIf, ValidateNested } from 'class-validator';
import { ApiKeyCredentialsInput, SmtpCredentialsInput } from '../delivery-servers/dto/credentials.inputs';

export enum CustomSmtpProvider {
  SPARKPOST = 'SPARKPOST',
  SENDGRID = 'SENDGRID',
  SMTP = 'SMTP',
}
registerEnumType(CustomSmtpProvider, { name: 'CustomSmtpProvider', description: "The three Custom SMTP choices; SMTP is 'Custom'." });

@InputType({ description: 'At least one of api and smtp.' })
export class AddCustomSmtpInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'accountId must be an account id' })
  accountId!: string;

  @Field(() => CustomSmtpProvider)
  @IsEnum(CustomSmtpProvider)
  provider!: CustomSmtpProvider;

  @Field(() => String, { nullable: true })
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value))
  @ValidateIf((_o, v) => v !== undefined && v !== null)
  @IsString()
  @Length(1, 200, { message: 'name must be 1 to 200 characters' })
  name?: string | null;

  @Field({ description: 'The verified sender address; tests and reminders are sent from it.' })
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim().toLowerCase() : value))
  @IsEmail({}, { message: 'email must be an email address such as "news@example.com"' })
  email!: string;

  @Field(() => ApiKeyCredentialsInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => ApiKeyCredentialsInput)
  api?: ApiKeyCredentialsInput | null;

  @Field(() => SmtpCredentialsInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => SmtpCredentialsInput)
  smtp?: SmtpCredentialsInput | null;

  @Field(() => String, { nullable: true })
  @ValidateIf((_o, v) => v !== undefined && v !== null)
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'ipPool must be 1-64 letters, digits, "_" or "-"' })
  ipPool?: string | null;
}
