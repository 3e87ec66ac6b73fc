import { Field, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { DeliveryErrorCode } from '../../providers/provider.enums';
import { QuotaExhaustedAction } from '../accounts/account.entity';
import { DeliveryServerModel } from '../delivery-servers/delivery-server.model';
import { RouteVia } from './candidate-ranking';

registerEnumType(RouteVia, { name: 'RouteVia' });

@ObjectType('RouteCandidate')
export class RouteCandidateModel {
  @Field(() => DeliveryServerModel) server!: DeliveryServerModel;
  @Field(() => Int) rank!: number;
  @Field(() => RouteVia) via!: RouteVia;
  @Field({ description: 'Can take the message now: active, on the right domain, add-on in force, quota not full.' }) eligible!: boolean;
  @Field(() => String, { nullable: true, description: 'Why not eligible, for a person.' }) reason!: string | null;
}

@ObjectType('RouteDecision')
export class RouteDecisionModel {
  @Field() from!: string;
  @Field(() => String, { nullable: true, description: "The From that will be sent (the server's senderAddress when it forces one)." })
  effectiveFrom!: string | null;
  @Field(() => DeliveryServerModel, { nullable: true }) server!: DeliveryServerModel | null;
  @Field() reason!: string;
  @Field(() => [RouteCandidateModel]) candidates!: RouteCandidateModel[];
  @Field(() => QuotaExhaustedAction) onQuotaExhausted!: QuotaExhaustedAction;
  @Field(() => DeliveryErrorCode, { nullable: true, description: 'Why a message would be refused now: NO_ROUTE or SENDER_NOT_VERIFIED; null when it routes.' })
  code!: DeliveryErrorCode | null;
  @Field(() => Date, { nullable: true, description: 'Set when the chosen server is at its quota: the message waits until then.' })
  waitUntil!: Date | null;
}
