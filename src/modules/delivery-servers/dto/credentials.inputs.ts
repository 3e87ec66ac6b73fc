import { Field, InputType, Int } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import { IsEnum, IsInt, IsOptional, IsString, Length, Matches, Max, Min, ValidateNested } from 'class-validator';
import { SmtpSecurity } from '../../../providers/provider.enums';

/** A host name or IP literal; no scheme, path or port. */
const HOST_RE = /^(?=.{1,253}$)(\[[0-9a-fA-F:.]+\]|[0-9a-fA-F:]*:[0-9a-fA-F:.]+|[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)$/;

@InputType()
export class SmtpCredentialsInput {
  @Field()
  @IsString()
  @Matches(HOST_RE, { message: 'host must be a host name or IP address (no scheme or port)' })
  host!: string;

  @Field(() => Int)
  @IsInt({ message: 'port must be a whole number from 1 to 65535' })
  @Min(1, { message: 'port must be a whole number from 1 to 65535' })
  @Max(65535, { message: 'port must be a whole number from 1 to 65535' })
  port!: number;

  @Field(() => SmtpSecurity)
  @IsEnum(SmtpSecurity)
  security!: SmtpSecurity;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  @Length(1, 320, { message: 'username must be 1 to 320 characters' })
  username?: string | null;

  @Field(() => String, { nullable: true, description: 'Left out on update: the stored password is kept while host, port and username stay the same and security does not drop to NONE; otherwise it must be given again (or is dropped, when username is left out too).' })
  @IsOptional()
  @IsString()
  @Length(1, 1000, { message: 'password must be 1 to 1000 characters' })
  password?: string | null;
}

@InputType()
export class SesCredentialsInput {
  @Field()
  @IsString()
  @Matches(/^[A-Z0-9]{16,128}$/, { message: 'accessKeyId must be an AWS access key id (upper-case letters and digits)' })
  accessKeyId!: string;

  @Field()
  @IsString()
  @Length(16, 256, { message: 'secretAccessKey must be 16 to 256 characters' })
  secretAccessKey!: string;

  @Field()
  @IsString()
  @Matches(/^[a-z]{2}(-gov)?-[a-z]+-\d{1,2}$/, { message: 'region must be an AWS region such as "eu-west-1"' })
  region!: string;

  @Field(() => String, {
    nullable: true,
    description: 'The SES configuration set sends name (webhook registration creates mailroute\'s own when empty). Left out on update: the stored one is kept while the region stays the same (a set exists in one region only).',
  })
  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'configurationSetName must be 1-64 letters, digits, "_" or "-"' })
  configurationSetName?: string | null;
}

@InputType({ description: 'SendGrid region GLOBAL|EU; SparkPost region US|EU; ElasticEmail has none.' })
export class ApiKeyCredentialsInput {
  @Field()
  @IsString()
  @Length(8, 500, { message: 'apiKey must be 8 to 500 characters' })
  @Matches(/^\S+$/, { message: 'apiKey must not contain spaces' })
  apiKey!: string;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  region?: string | null;
}

@InputType()
export class MailgunCredentialsInput {
  @Field()
  @IsString()
  @Length(8, 500, { message: 'apiKey must be 8 to 500 characters' })
  @Matches(/^\S+$/, { message: 'apiKey must not contain spaces' })
  apiKey!: string;

  @Field()
  @IsString()
  @Matches(HOST_RE, { message: 'domain must be a domain name such as "mg.example.com"' })
  domain!: string;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  region?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "Mailgun's HTTP webhook signing key; left out, webhook registration reads the account's. Left out on update: the stored one is kept while apiKey and region stay the same; otherwise give it again, or null to use the new account's.",
  })
  @IsOptional()
  @IsString()
  @Length(8, 500, { message: 'webhookSigningKey must be 8 to 500 characters' })
  webhookSigningKey?: string | null;
}

@InputType({
  description:
    "Exactly the provider's own API block may be set, plus smtp where the provider offers SMTP. On update, a change of the provider's API block registers the webhooks again; the registration under the old block stays at the provider (remove it there).",
})
export class ServerCredentialsInput {
  @Field(() => SmtpCredentialsInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => SmtpCredentialsInput)
  smtp?: SmtpCredentialsInput | null;

  @Field(() => SesCredentialsInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => SesCredentialsInput)
  ses?: SesCredentialsInput | null;

  @Field(() => ApiKeyCredentialsInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => ApiKeyCredentialsInput)
  sendgrid?: ApiKeyCredentialsInput | null;

  @Field(() => MailgunCredentialsInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => MailgunCredentialsInput)
  mailgun?: MailgunCredentialsInput | null;

  @Field(() => ApiKeyCredentialsInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => ApiKeyCredentialsInput)
  sparkpost?: ApiKeyCredentialsInput | null;

  @Field(() => ApiKeyCredentialsInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => ApiKeyCredentialsInput)
  elasticEmail?: ApiKeyCredentialsInput | null;
}
