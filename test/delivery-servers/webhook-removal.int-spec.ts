import { MAILGUN_WEBHOOK_EVENTS } from '../../src/providers/mailgun/mailgun.adapter';
import type { ServerView } from '../factories/delivery-servers';
import { MailgunFake } from '../fakes/mailgun-fake';
import { SesFake } from '../fakes/ses-fake';
import { WebhookHarness } from '../webhooks/webhook-harness';

const KEY = 'AKIAREMOVAL00001';

/**
 * deleteDeliveryServer removes what registering the server's webhooks left at the provider, whatever
 * the registration's outcome (not only REGISTERED ones), and a provider that refuses never keeps the
 * server from being deleted.
 */
describe('deleting a delivery server removes what its webhook registration left at the provider', () => {
  const ses = new SesFake({ accessKeyIds: [KEY], identities: { 'example.com': 'SUCCESS' } });
  const mailgun = new MailgunFake({ apiKeys: ['key-test'], domains: { 'mg.example.com': 'active' } });
  let h: WebhookHarness;
  beforeAll(async () => {
    const sesUrl = await ses.start();
    await mailgun.start();
    h = await WebhookHarness.start({ SES_ENDPOINT: sesUrl, SNS_ENDPOINT: sesUrl, MAILGUN_API_URL: mailgun.url });
  });
  afterAll(async () => {
    await h.close();
    await ses.stop();
    await mailgun.stop();
  });

  const sesServer = () => h.server({ provider: 'AMAZON_SES', senderAddress: 'news@example.com', credentials: { ses: { accessKeyId: KEY, secretAccessKey: 'x'.repeat(40), region: 'us-east-1' } } });
  const remove = (id: string) => h.t.gqlOk<{ deleteDeliveryServer: boolean }>(`mutation($id: ID!) { deleteDeliveryServer(id: $id) }`, { id });
  const gone = async (id: string) => (await h.t.gql<{ deliveryServer: ServerView | null }>(`query($id: ID!) { deliveryServer(id: $id) { id } }`, { id })).errors?.[0]?.extensions?.code;
  /** What SES and SNS hold of mailroute's registration for the server. */
  const atSes = (server: ServerView) => {
    const setName = `mailroute-${server.id}`;
    const topic = [...ses.topics.values()].find((t) => t.name === `mailroute-ses-${server.id}`);
    return {
      configurationSet: ses.configurationSets.has(setName),
      eventDestination: ses.configurationSets.get(setName)?.eventDestinations.has(`mailroute-${server.id}`) ?? false,
      topic: Boolean(topic),
      subscriptions: topic?.subscriptions.filter((s) => s.endpoint === `${h.t.config.publicUrl}/webhooks/ses/${server.id}`).length ?? 0,
    };
  };
  const everything = { configurationSet: true, eventDestination: true, topic: true, subscriptions: 1 };
  const nothing = { configurationSet: false, eventDestination: false, topic: false, subscriptions: 0 };

  it('SES PENDING (SNS has not confirmed yet): the configuration set, event destination, topic and subscription go', async () => {
    const { server } = await sesServer();
    expect(server.webhook.status).toBe('PENDING');
    expect(atSes(server)).toEqual(everything);

    expect((await remove(server.id)).deleteDeliveryServer).toBe(true);
    expect(atSes(server)).toEqual(nothing);
    expect(await gone(server.id)).toBe('NOT_FOUND');
  });

  it('SES FAILED half way (SNS refused the subscription): what the registration made before it failed goes', async () => {
    ses.failNextSns('Subscribe');
    const { server } = await sesServer();
    expect(server.webhook.status).toBe('FAILED');
    expect(atSes(server)).toEqual({ ...everything, subscriptions: 0 });

    expect((await remove(server.id)).deleteDeliveryServer).toBe(true);
    expect(atSes(server)).toEqual(nothing);
  });

  it('SES refusing part of the removal (the SNS API fails) still deletes the server and removes the rest', async () => {
    const { server } = await sesServer();
    ses.failSnsApi(SesFake.serverError(503));
    try {
      expect((await remove(server.id)).deleteDeliveryServer).toBe(true);
    } finally {
      ses.failSnsApi({ kind: 'none' });
    }
    expect(await gone(server.id)).toBe('NOT_FOUND');
    // The SES side is gone; SNS's topic was left where SNS refused (removal is best effort).
    expect(atSes(server)).toEqual({ ...nothing, topic: true, subscriptions: 1 });
  });

  it("Mailgun FAILED half way (an event's webhook already has Mailgun's limit of URLs): our URL comes off the events it was added to, the owner's stay", async () => {
    const owners = ['https://a.example.org/hook', 'https://b.example.org/hook', 'https://c.example.org/hook'];
    const full = MAILGUN_WEBHOOK_EVENTS[MAILGUN_WEBHOOK_EVENTS.length - 1];
    mailgun.hooksOf('mg.example.com').set(full, [...owners]);
    const { server } = await h.server({ provider: 'MAILGUN', credentials: { mailgun: { apiKey: 'key-test', domain: 'mg.example.com' } } });
    expect(server.webhook.status).toBe('FAILED');
    const url = server.webhook.url ?? '';
    const withOurs = () => MAILGUN_WEBHOOK_EVENTS.filter((event) => mailgun.hooksOf('mg.example.com').get(event)?.includes(url));
    expect(withOurs()).toEqual(MAILGUN_WEBHOOK_EVENTS.filter((event) => event !== full));

    expect((await remove(server.id)).deleteDeliveryServer).toBe(true);
    expect(withOurs()).toEqual([]);
    expect(mailgun.hooksOf('mg.example.com').get(full)).toEqual(owners);
  });
});
