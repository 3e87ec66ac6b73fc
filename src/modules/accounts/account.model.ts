import { Field, ID, ObjectType, registerEnumType } from '@nestjs/graphql';
import { Role } from '../../infra/auth/viewer';
import { ConnectionType } from '../../infra/graphql/pagination';
import { Addon, QuotaExhaustedAction } from './account.entity';

export enum AccountKind {
  AGENCY = 'AGENCY',
  SUB_ACCOUNT = 'SUB_ACCOUNT',
}

registerEnumType(Role, { name: 'Role' });
registerEnumType(AccountKind, { name: 'AccountKind' });
registerEnumType(QuotaExhaustedAction, {
  name: 'QuotaExhaustedAction',
  description: "The delivery route setting: what happens to mail when a server's quota is used up.",
});
registerEnumType(Addon, { name: 'Addon', description: 'Paid features an account must have before it may use them.' });

/** The GraphQL Account; relations (parent, subAccounts, effectiveAddons) resolve in AccountsResolver. */
@ObjectType('Account')
export class AccountModel {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field({ description: "IANA zone name; quota windows of the account's servers reset on this clock." })
  timezone!: string;
  @Field(() => AccountKind) kind!: AccountKind;
  @Field(() => QuotaExhaustedAction) onQuotaExhausted!: QuotaExhaustedAction;
  @Field(() => [Addon], { description: "Add-ons enabled on this account itself; an agency's add-ons also cover its sub-accounts." })
  addons!: Addon[];
  @Field() createdAt!: Date;

  /** Not exposed: used by the field resolvers. */
  parentId!: string | null;
}

export const AccountConnection = ConnectionType(AccountModel, 'Account');

@ObjectType('Viewer')
export class ViewerModel {
  @Field(() => Role) role!: Role;
  @Field(() => AccountModel, { nullable: true }) account!: AccountModel | null;
}
