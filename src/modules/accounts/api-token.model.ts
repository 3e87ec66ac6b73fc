import { Field, ID, ObjectType } from '@nestjs/graphql';
import { Role } from '../../infra/auth/viewer';

@ObjectType('ApiToken')
export class ApiTokenModel {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field(() => Role) role!: Role;
  @Field(() => Date) createdAt!: Date;
  @Field(() => Date, { nullable: true }) lastUsedAt!: Date | null;

  /** Resolved to `account` by ApiTokensResolver. */
  accountId!: string | null;
}

@ObjectType('CreatedApiToken')
export class CreatedApiTokenModel {
  @Field({ description: 'Shown once.' }) token!: string;
  @Field(() => ApiTokenModel) apiToken!: ApiTokenModel;
}
