import { newAgency } from '../factories/accounts';
import { createServer, SERVER_FIELDS, type ServerView } from '../factories/delivery-servers';
import { SesFake } from '../fakes/ses-fake';
import { WebhookHarness } from './webhook-harness';

const KEY = 'AKIAORDER0000001';
const ROTATED_KEY = 'AKIAORDER0000002';
const UPDATE = `mutation($id: ID!, $input: UpdateDeliveryServerInput!) { updateDeliveryServer(id: $id, input: $input) { ${SERVER_FIELDS} } }`;
const REGISTER = `mutation($id: ID!) { registerWebhooks(id: $id) { ${SERVER_FIELDS} } }`;

type Webhook = ServerView['webhook'];

/**
 * SNS posts the SubscriptionConfirmation as soon as it has made the subscription, while the
 * registration that asked for it may still be on its way to recording its outcome (PENDING). The
 * SES fake makes the subscription and holds its answer to Subscribe; the confirmation is posted to
 * the app meanwhile, as SNS would. Whichever comes first, the webhook ends REGISTERED.
 */
describe('SES: the SNS confirmation and the registration that asked for it, in either order', () => {
  const ses = new SesFake({ accessKeyIds: [KEY, ROTATED_KEY], identities: { 'example.com': 'SUCCESS' } });
  let h: WebhookHarness;
  beforeAll(async () => {
    const url = await ses.start();
    h = await WebhookHarness.start({ SES_ENDPOINT: url, SNS_ENDPOINT: url });
  });
  afterAll(async () => {
    await h.close();
    await ses.stop();
  });

  const keys = (region: string, accessKeyId = KEY) => ({ accessKeyId, secretAccessKey: 'x'.repeat(40), region });
  const endpointOf = (serverId: string) => `${h.t.config.publicUrl}/webhooks/ses/${serverId}`;
  /** The topic (of that region) our endpoint is subscribed to at the fake. */
  const topicOf = (serverId: string, region: string): string => {
    const topic = [...ses.topics.values()].find((t) => t.arn.startsWith(`arn:aws:sns:${region}:`) && t.subscriptions.some((s) => s.endpoint === endpointOf(serverId)));
    if (!topic) throw new Error(`no subscription of server ${serverId} in ${region}`);
    return topic.arn;
  };
  const subscription = (serverId: string, topicArn: string) => ses.topics.get(topicArn)?.subscriptions.find((s) => s.endpoint === endpointOf(serverId));
  /** The SubscriptionConfirmation SNS posts for the server's subscription to the topic. */
  const confirm = (serverId: string, topicArn: string) => h.post(`/webhooks/ses/${serverId}`, ses.subscriptionConfirmation(topicArn, endpointOf(serverId)));
  const webhookOf = async (id: string): Promise<Webhook> =>
    (await h.t.gqlOk<{ deliveryServer: { webhook: Webhook } }>(`query($id: ID!) { deliveryServer(id: $id) { webhook { status url events error registeredAt } } }`, { id })).deliveryServer.webhook;

  /**
   * Runs `registering` (which makes the server's SNS subscription) with SNS's answer to Subscribe
   * held after the subscription is made; `meanwhile` runs then, before the registration records
   * anything. Returns what `registering` returned.
   */
  async function whileSubscribeAnswerHeld<T>(registering: () => Promise<T>, meanwhile: () => Promise<void>): Promise<T> {
    const held = ses.holdNextSns('Subscribe', { applied: true });
    const running = registering();
    // Settles when the registration does, whatever its outcome (so its failure is not left unhandled).
    const ended = running.then(
      () => 'it succeeded',
      (err: unknown) => `it failed: ${err instanceof Error ? err.message : String(err)}`,
    );
    try {
      // A registration that ends without calling Subscribe would leave `reached` pending forever.
      await Promise.race([
        held.reached,
        ended.then((how) => {
          throw new Error(`registration ended before Subscribe (${how})`);
        }),
      ]);
      await meanwhile();
    } finally {
      held.release();
    }
    return running;
  }

  it("a confirmation naming the server's topic in another AWS account, with no registration under way, is refused (401), not retried", async () => {
    const agency = await newAgency(h.t);
    const server = await createServer(h.t, { accountId: agency.id, name: 'SES probed', provider: 'AMAZON_SES', senderAddress: 'news@example.com', credentials: { ses: keys('us-east-1') } });
    const ours = topicOf(server.id, 'us-east-1');
    // Someone else's account made a topic of the same name and subscribed our endpoint to it.
    const theirs = ours.replace(/:\d{12}:/, ':999988887777:');
    ses.topics.set(theirs, {
      arn: theirs,
      name: theirs.split(':').at(-1) ?? '',
      attributes: {},
      subscriptions: [{ arn: `${theirs}:sub-1`, protocol: 'https', endpoint: endpointOf(server.id), token: 'token-theirs', confirmed: false }],
    });
    const res = await confirm(server.id, theirs);
    expect(res.status).toBe(401);
    expect(ses.topics.get(theirs)?.subscriptions[0].confirmed).toBe(false);
  });

  it('on create: a confirmation before the registration is recorded is answered 503 (SNS retries it), and the retry completes it', async () => {
    const agency = await newAgency(h.t);
    let serverId = '';
    const created = await whileSubscribeAnswerHeld(
      () => createServer(h.t, { accountId: agency.id, name: 'SES early confirmation', provider: 'AMAZON_SES', senderAddress: 'news@example.com', credentials: { ses: keys('us-east-1') } }),
      async () => {
        const listed = await h.t.gqlOk<{ deliveryServers: { id: string }[] }>(`query($accountId: ID) { deliveryServers(accountId: $accountId) { id } }`, { accountId: agency.id });
        serverId = listed.deliveryServers[0].id;
        const early = await confirm(serverId, topicOf(serverId, 'us-east-1'));
        // 4xx would be final at SNS: the subscription would never be confirmed.
        expect(early.status).toBe(503);
        expect(early.body).toEqual({ statusCode: 503, message: 'Webhook cannot be checked now: retry later' });
        expect(subscription(serverId, topicOf(serverId, 'us-east-1'))?.confirmed).toBe(false);
      },
    );
    expect(created.id).toBe(serverId);
    expect(created.webhook).toMatchObject({ status: 'PENDING', url: endpointOf(serverId), registeredAt: null });

    const topicArn = topicOf(serverId, 'us-east-1');
    expect((await confirm(serverId, topicArn)).status).toBe(200);
    expect(subscription(serverId, topicArn)?.confirmed).toBe(true);
    expect(await webhookOf(serverId)).toMatchObject({ status: 'REGISTERED', error: null, registeredAt: expect.any(String) });
  });

  it('registering again while PENDING: the confirmation SNS posts again, handled before the registration records, leaves it REGISTERED', async () => {
    const { server } = await h.server({ provider: 'AMAZON_SES', senderAddress: 'news@example.com', credentials: { ses: keys('us-east-1') } });
    expect(server.webhook.status).toBe('PENDING');
    const topicArn = topicOf(server.id, 'us-east-1');

    const again = await whileSubscribeAnswerHeld(
      async () => (await h.t.gqlOk<{ registerWebhooks: ServerView }>(REGISTER, { id: server.id })).registerWebhooks,
      async () => {
        expect((await confirm(server.id, topicArn)).status).toBe(200);
        expect((await webhookOf(server.id)).status).toBe('REGISTERED');
      },
    );
    expect(subscription(server.id, topicArn)?.confirmed).toBe(true);
    expect(again.webhook).toMatchObject({ status: 'REGISTERED', url: server.webhook.url, error: null, registeredAt: expect.any(String) });
    expect(await webhookOf(server.id)).toEqual(again.webhook);
  });

  it('new keys in the same region while PENDING: the confirmation handled before the re-registration records leaves it REGISTERED', async () => {
    const { server } = await h.server({ provider: 'AMAZON_SES', senderAddress: 'news@example.com', credentials: { ses: keys('us-east-1') } });
    const topicArn = topicOf(server.id, 'us-east-1');

    const updated = await whileSubscribeAnswerHeld(
      async () => (await h.t.gqlOk<{ updateDeliveryServer: ServerView }>(UPDATE, { id: server.id, input: { credentials: { ses: keys('us-east-1', ROTATED_KEY) } } })).updateDeliveryServer,
      async () => {
        expect((await confirm(server.id, topicArn)).status).toBe(200);
      },
    );
    expect(updated.webhook).toMatchObject({ status: 'REGISTERED', error: null, registeredAt: expect.any(String) });
    expect(await webhookOf(server.id)).toEqual(updated.webhook);
    // A later registration of the same, confirmed subscription stays REGISTERED too.
    expect((await h.t.gqlOk<{ registerWebhooks: ServerView }>(REGISTER, { id: server.id })).registerWebhooks.webhook).toEqual(updated.webhook);
  });

  it("a region change: the new topic's early confirmation is retried (503), the old topic's does not complete the new registration, the retry does", async () => {
    const { server } = await h.server({ provider: 'AMAZON_SES', senderAddress: 'news@example.com', credentials: { ses: keys('us-east-1') } });
    const oldTopic = topicOf(server.id, 'us-east-1');

    const updated = await whileSubscribeAnswerHeld(
      async () => (await h.t.gqlOk<{ updateDeliveryServer: ServerView }>(UPDATE, { id: server.id, input: { credentials: { ses: keys('eu-west-1') } } })).updateDeliveryServer,
      async () => {
        // The stored registration's topic, confirmed late: it completes that one, not the one under way.
        expect((await confirm(server.id, oldTopic)).status).toBe(200);
        expect((await confirm(server.id, topicOf(server.id, 'eu-west-1'))).status).toBe(503);
      },
    );
    const newTopic = topicOf(server.id, 'eu-west-1');
    expect(subscription(server.id, newTopic)?.confirmed).toBe(false);
    expect(updated.webhook).toMatchObject({ status: 'PENDING', registeredAt: null });

    expect((await confirm(server.id, newTopic)).status).toBe(200);
    expect(subscription(server.id, newTopic)?.confirmed).toBe(true);
    expect(await webhookOf(server.id)).toMatchObject({ status: 'REGISTERED', registeredAt: expect.any(String) });
    // The old region's topic no longer speaks for the server.
    expect((await confirm(server.id, oldTopic)).status).toBe(401);
  });
});
