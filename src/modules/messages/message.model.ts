import { Field, ID, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { TransportKind } from '../../providers/provider.enums';
import { ConnectionType } from '../../infra/graphql/pagination';
import { DeliveryErrorModel } from '../delivery-servers/delivery-server.model';
import { MessageEventType, MessageSource, MessageStatus } from './message.entity';

registerEnumType(MessageSource, { name: 'MessageSource' });
registerEnumType(MessageStatus, {
  name: 'MessageStatus',
  valuesMap: {
    SENT: { description: 'Accepted by the provider; its webhooks may still make it DELIVERED, BOUNCED, FAILED or COMPLAINED.' },
    FAILED: { description: 'Refused for good: by the provider when sending (the classified error), or by the provider after accepting it (a webhook).' },
    BOUNCED: { description: 'A hard bounce, or a soft bounce the provider stopped retrying (no suppression); a later delivery outranks a soft bounce.' },
    REJECTED: { description: 'Not sent: no route, or a From the routed server cannot send.' },
    SUPPRESSED: { description: 'Not sent: the recipient is suppressed for the account, when the message was accepted or by the time its turn to send came.' },
  },
});
registerEnumType(MessageEventType, {
  name: 'MessageEventType',
  valuesMap: {
    DEFERRED: { description: 'Sending waits: our retry or quota wait, or the provider still retrying (the message stays SENT).' },
    REJECTED: { description: 'Not sent: no route, or a suppressed recipient; or (from a webhook) the provider would not send it after accepting it.' },
  },
});

@ObjectType('MessageEvent')
export class MessageEventModel {
  @Field(() => MessageEventType) type!: MessageEventType;
  @Field() occurredAt!: Date;
  @Field(() => String, { nullable: true }) detail!: string | null;
  /** Resolved to `server`. */
  serverId!: string | null;
}

@ObjectType('Message')
export class MessageModel {
  @Field(() => ID) id!: string;
  @Field(() => MessageSource) source!: MessageSource;
  @Field() from!: string;
  @Field() to!: string;
  @Field() subject!: string;
  @Field(() => MessageStatus) status!: MessageStatus;
  @Field(() => TransportKind, { nullable: true }) transport!: TransportKind | null;
  @Field(() => String, { nullable: true }) providerMessageId!: string | null;
  @Field(() => Int) attempts!: number;
  @Field(() => Date, { nullable: true }) nextAttemptAt!: Date | null;
  @Field(() => DeliveryErrorModel, { nullable: true }) error!: DeliveryErrorModel | null;
  @Field() createdAt!: Date;
  @Field(() => Date, { nullable: true }) sentAt!: Date | null;

  /** Resolved to account, campaign and server by the resolver. */
  accountId!: string;
  campaignId!: string | null;
  serverId!: string | null;
}

export const MessageConnection = ConnectionType(MessageModel, 'Message');
