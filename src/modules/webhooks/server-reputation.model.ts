import { Field, Float, Int, ObjectType } from '@nestjs/graphql';

@ObjectType('ServerReputation', {
  description:
    'How the messages a server sent in the last 24 hours fared. bounced: hard bounces (a HARD_BOUNCE event); complained: status COMPLAINED or a COMPLAINT event; each message counted once. Rates are counts / sent, 0 when nothing was sent.',
})
export class ServerReputationModel {
  @Field(() => Int, { description: 'Messages the server sent since `since`.' }) sent!: number;
  @Field(() => Int) bounced!: number;
  @Field(() => Int) complained!: number;
  @Field(() => Float, { description: 'bounced / sent, between 0 and 1.' }) bounceRate!: number;
  @Field(() => Float, { description: 'complained / sent, between 0 and 1. Above COMPLAINT_PAUSE_RATE, with at least COMPLAINT_PAUSE_MIN_SENT sent, the server is paused (see pausedReason).' })
  complaintRate!: number;
  @Field(() => Date, { description: 'Start of the window: 24 hours before the request.' }) since!: Date;
}
