import { Field, ObjectType, registerEnumType } from '@nestjs/graphql';
import { ConnectionType } from '../../infra/graphql/pagination';
import { SuppressionReason } from './suppression.entity';

registerEnumType(SuppressionReason, { name: 'SuppressionReason' });

@ObjectType('Suppression')
export class SuppressionModel {
  @Field() email!: string;
  @Field(() => SuppressionReason) reason!: SuppressionReason;
  @Field() createdAt!: Date;
}

export const SuppressionConnection = ConnectionType(SuppressionModel, 'Suppression');
