import type Redis from 'ioredis';
import { REDIS } from '../../src/infra/redis/redis.module';
import { newAgency } from '../factories/accounts';
import { createServer, SERVER_FIELDS, type ServerView, type TestView } from '../factories/delivery-servers';
import { MailgunFake } from '../fakes/mailgun-fake';
import { SesFake } from '../fakes/ses-fake';
import { recordCommands } from '../utils/redis-commands';
import { waitFor } from '../utils/wait-for';
import { WebhookHarness } from '../webhooks/webhook-harness';
import { MAILGUN_WEBHOOK_EVENTS } from '../../src/providers/mailgun/mailgun.adapter';

const KEY = 'AKIACHANGES00001';
const ROTATED_KEY = 'AKIACHANGES00002';
const UPDATE = `mutation($id: ID!, $input: UpdateDeliveryServerInput!) { updateDeliveryServer(id: $id, input: $input) { ${SERVER_FIELDS} } }`;

/**
 * What a change of a server's provider credentials does to its webhook registration and to the
 * SES configuration set its sends name, against the SES (regions apart, as at AWS) and Mailgun fakes.
 */
describe('changing the provider credentials of a delivery server', () => {
  const ses = new SesFake({ accessKeyIds: [KEY, ROTATED_KEY], identities: { 'example.com': 'SUCCESS' }, requireConfigurationSets: true });
  const mailgun = new MailgunFake({ apiKeys: ['key-test'], domains: { 'mg.example.com': 'active', 'mg2.example.com': 'active' } });
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

  const sesKeys = (region: string, accessKeyId = KEY) => ({ accessKeyId, secretAccessKey: 'x'.repeat(40), region });
  const sesServer = (credentials: Record<string, unknown>) => h.server({ provider: 'AMAZON_SES', senderAddress: 'news@example.com', credentials });
  const update = async (id: string, input: Record<string, unknown>) => (await h.t.gqlOk<{ updateDeliveryServer: ServerView }>(UPDATE, { id, input })).updateDeliveryServer;
  const apiTest = async (id: string) =>
    (await h.t.gqlOk<{ testSmtpServer: TestView }>(`mutation($id: ID!) { testSmtpServer(id: $id, to: "ops@example.com", transport: API) { ok error { code message } } }`, { id })).testSmtpServer;
  /** The SNS topic mailroute's event destination in the set publishes to, in that region (one per server: mailroute-<server id>). */
  const topicOfSet = (region: string, setName: string): string | undefined => {
    const destinations = [...(ses.configurationSetsIn(region).get(setName)?.eventDestinations ?? new Map<string, Record<string, unknown>>())];
    const destination = destinations.find(([name]) => /^mailroute-[0-9a-f-]{36}$/.test(name))?.[1];
    return (destination?.SnsDestination as { TopicArn?: string } | undefined)?.TopicArn;
  };
  const subscribers = (topicArn: string | undefined) => (topicArn ? ses.topics.get(topicArn)?.subscriptions.map((s) => s.endpoint) : undefined);
  const confirm = (server: ServerView, topicArn: string) => h.post(`/webhooks/ses/${server.id}`, ses.subscriptionConfirmation(topicArn, server.webhook.url ?? ''));
  /** Where SES took the last send, and the configuration set it named. */
  const lastSend = () => {
    const sent = ses.accepted.at(-1);
    return { region: sent && ses.sentIn.get(sent.providerMessageId), configurationSetName: sent?.configurationSetName };
  };
  const providerCalls = () => ses.requests.length + mailgun.requests.length;

  it('deleting a server while its new registration runs waits for it, then removes what it made', async () => {
    const { server } = await sesServer({ ses: sesKeys('us-east-1') });
    const held = ses.holdNextSns('Subscribe', { applied: true });
    const updating = h.t.gql(UPDATE, { id: server.id, input: { credentials: { ses: sesKeys('ap-south-1') } } });
    let deleting: Promise<unknown> = Promise.resolve();
    const lock = `${h.t.config.redis.prefix}:webhook-registration:${server.id}`;
    // Every try for the lock: the registration's, then the deletion's polls.
    const recorder = recordCommands(h.t.app.get<Redis>(REDIS));
    const tries = (): number => recorder.commands.filter((args) => args[0].toLowerCase() === 'set' && args[1] === lock).length;
    try {
      await held.reached;
      // The registration holds its server's lock, which the deletion's removal waits for.
      expect(await h.t.app.get<Redis>(REDIS).exists(lock)).toBe(1);
      deleting = h.t.gqlOk(`mutation($id: ID!) { deleteDeliveryServer(id: $id) }`, { id: server.id });
      await waitFor('the deletion waiting for the lock', async () => tries() >= 3, 5_000);
      expect((await h.sql(`SELECT 1 FROM delivery_servers WHERE id = $1`, [server.id])).length).toBe(1);
    } finally {
      held.release();
      recorder.stop();
    }
    // The registration ran to its end under its lock: the update answers with it recorded.
    const answer = await updating;
    expect(answer.errors).toBeUndefined();
    expect(await deleting).toEqual({ deleteDeliveryServer: true });
    // Removed after the registration recorded it: nothing of ours is left in the new region.
    const newRegion = [...ses.topics.values()].filter((t) => t.arn.startsWith('arn:aws:sns:ap-south-1:'));
    expect(newRegion.flatMap((t) => t.subscriptions.map((x) => x.endpoint))).not.toContain(server.webhook.url);
    expect(ses.configurationSetsIn('ap-south-1').get(`mailroute-${server.id}`)?.eventDestinations.size ?? 0).toBe(0);
  });

  it("a region change drops the configuration set of the old region and registers again in the new one: sends name the new region's set", async () => {
    const { server } = await sesServer({ ses: sesKeys('us-east-1') });
    const setName = `mailroute-${server.id}`;
    expect(topicOfSet('us-east-1', setName)).toMatch(/^arn:aws:sns:us-east-1:/);

    const updated = await update(server.id, { credentials: { ses: sesKeys('eu-west-1') } });
    expect(updated.webhook).toMatchObject({ status: 'PENDING', url: server.webhook.url, error: null });
    const topicArn = topicOfSet('eu-west-1', setName) ?? '';
    expect(topicArn).toMatch(/^arn:aws:sns:eu-west-1:/);
    expect(subscribers(topicArn)).toEqual([server.webhook.url]);

    expect(await apiTest(server.id)).toMatchObject({ ok: true, error: null });
    expect(lastSend()).toEqual({ region: 'eu-west-1', configurationSetName: setName });
    // The stored registration is the new region's: its topic's confirmation completes it.
    expect((await confirm(server, topicArn)).status).toBe(200);
    expect((await h.t.gqlOk<{ deliveryServer: ServerView }>(`query($id: ID!) { deliveryServer(id: $id) { webhook { status } } }`, { id: server.id })).deliveryServer.webhook.status).toBe('REGISTERED');
  });

  it('a region change also drops a configuration set the owner named (it exists in its region only): mailroute makes its own in the new region', async () => {
    ses.configurationSetsIn('us-east-1').set('customer-events', { name: 'customer-events', eventDestinations: new Map() });
    const { server } = await sesServer({ ses: { ...sesKeys('us-east-1'), configurationSetName: 'customer-events' } });
    expect(topicOfSet('us-east-1', 'customer-events')).toBeDefined();

    const updated = await update(server.id, { credentials: { ses: sesKeys('eu-west-2') } });
    expect(updated.webhook).toMatchObject({ status: 'PENDING', error: null });
    expect(subscribers(topicOfSet('eu-west-2', `mailroute-${server.id}`))).toEqual([server.webhook.url]);
    expect(await apiTest(server.id)).toMatchObject({ ok: true, error: null });
    expect(lastSend()).toEqual({ region: 'eu-west-2', configurationSetName: `mailroute-${server.id}` });
  });

  it('rotating the keys in the same region registers again onto the same set, topic and subscription: the webhook stays REGISTERED and sends name the set', async () => {
    const { server } = await sesServer({ ses: sesKeys('us-east-1') });
    const setName = `mailroute-${server.id}`;
    const topicArn = topicOfSet('us-east-1', setName) ?? '';
    expect((await confirm(server, topicArn)).status).toBe(200);
    const confirmed = (await h.t.gqlOk<{ deliveryServer: ServerView }>(`query($id: ID!) { deliveryServer(id: $id) { webhook { status url events error registeredAt } } }`, { id: server.id })).deliveryServer.webhook;
    expect(confirmed.status).toBe('REGISTERED');
    const subscribesWithRotatedKey = () =>
      ses.requests.filter((r) => String(r.headers.authorization).includes(`Credential=${ROTATED_KEY}/`) && r.rawBody.toString().includes('Action=Subscribe')).length;

    const updated = await update(server.id, { credentials: { ses: sesKeys('us-east-1', ROTATED_KEY) } });
    expect(subscribesWithRotatedKey()).toBe(1);
    // SNS sends no new confirmation for a subscription it has confirmed: PENDING now would be for good.
    expect(updated.webhook).toEqual(confirmed);
    expect(subscribers(topicOfSet('us-east-1', setName))).toEqual([server.webhook.url]);
    expect(await apiTest(server.id)).toMatchObject({ ok: true, error: null });
    expect(lastSend()).toEqual({ region: 'us-east-1', configurationSetName: setName });
  });

  it('a registration that failed after the subscription was confirmed does not leave the next one PENDING for good (SNS sends no new confirmation)', async () => {
    const { server } = await sesServer({ ses: sesKeys('us-east-1') });
    const topicArn = topicOfSet('us-east-1', `mailroute-${server.id}`) ?? '';
    expect((await confirm(server, topicArn)).status).toBe(200);
    const register = async () =>
      (await h.t.gqlOk<{ registerWebhooks: ServerView }>(`mutation($id: ID!) { registerWebhooks(id: $id) { webhook { status error registeredAt } } }`, { id: server.id })).registerWebhooks.webhook;
    ses.failNextSns('Subscribe', 400, 'Throttling', 'Rate exceeded');
    expect(await register()).toMatchObject({ status: 'FAILED' });
    expect(await register()).toMatchObject({ status: 'REGISTERED', error: null, registeredAt: expect.any(String) });
  });

  it('after PUBLIC_URL moved, the new subscription stays PENDING until SNS confirms it (the old one was confirmed, this one not), and sends keep their set meanwhile', async () => {
    const { server } = await sesServer({ ses: sesKeys('us-east-1') });
    const setName = `mailroute-${server.id}`;
    expect((await confirm(server, topicOfSet('us-east-1', setName) ?? '')).status).toBe(200);
    const publicUrl = h.t.config.publicUrl;
    h.t.config.publicUrl = 'https://mail.moved.example';
    try {
      const register = async () =>
        (await h.t.gqlOk<{ registerWebhooks: ServerView }>(`mutation($id: ID!) { registerWebhooks(id: $id) { webhook { status url } } }`, { id: server.id })).registerWebhooks.webhook;
      const moved = `https://mail.moved.example/webhooks/ses/${server.id}`;
      expect(await register()).toMatchObject({ status: 'PENDING', url: moved });
      // SNS posts to the new endpoint only: the old one's subscription is gone.
      expect(subscribers(topicOfSet('us-east-1', setName))).toEqual([moved]);
      expect(await apiTest(server.id)).toMatchObject({ ok: true, error: null });
      expect(lastSend()).toEqual({ region: 'us-east-1', configurationSetName: setName });
      // Registered again before SNS confirmed the new subscription: still PENDING.
      expect(await register()).toMatchObject({ status: 'PENDING', url: moved });
    } finally {
      h.t.config.publicUrl = publicUrl;
    }
  });

  it('new keys that do not find the set mailroute made (another AWS account) get it made again: sends keep naming a set that exists', async () => {
    const { server } = await sesServer({ ses: sesKeys('us-east-1') });
    const setName = `mailroute-${server.id}`;
    // The fake has one AWS account: the set missing where the new keys point stands in for keys of another account.
    ses.configurationSetsIn('us-east-1').delete(setName);

    const updated = await update(server.id, { credentials: { ses: sesKeys('us-east-1', ROTATED_KEY) } });
    expect(updated.webhook).toMatchObject({ status: 'PENDING', error: null });
    expect(subscribers(topicOfSet('us-east-1', setName))).toEqual([server.webhook.url]);
    expect(await apiTest(server.id)).toMatchObject({ ok: true, error: null });
    expect(lastSend().configurationSetName).toBe(setName);
  });

  it('a Mailgun domain change registers the webhooks on the new domain (and deleting the server removes them from there)', async () => {
    const { server } = await h.server({ provider: 'MAILGUN', credentials: { mailgun: { apiKey: 'key-test', domain: 'mg.example.com' } } });
    const url = server.webhook.url ?? '';
    expect(server.webhook.status).toBe('REGISTERED');
    const ours = (domain: string) => MAILGUN_WEBHOOK_EVENTS.filter((event) => mailgun.hooksOf(domain).get(event)?.includes(url));
    expect(ours('mg2.example.com')).toEqual([]);

    const updated = await update(server.id, { credentials: { mailgun: { apiKey: 'key-test', domain: 'mg2.example.com' } } });
    expect(updated.webhook).toMatchObject({ status: 'REGISTERED', url, error: null });
    expect(ours('mg2.example.com')).toEqual([...MAILGUN_WEBHOOK_EVENTS]);

    await h.t.gqlOk(`mutation($id: ID!) { deleteDeliveryServer(id: $id) }`, { id: server.id });
    expect(ours('mg2.example.com')).toEqual([]);
  });

  it('a registration that fails under the new credentials is recorded on the webhook; the update is saved all the same', async () => {
    const { server } = await h.server({ provider: 'MAILGUN', credentials: { mailgun: { apiKey: 'key-test', domain: 'mg.example.com' } } });
    const result = await h.t.gql<{ updateDeliveryServer: ServerView }>(UPDATE, { id: server.id, input: { name: 'Moved', credentials: { mailgun: { apiKey: 'key-test', domain: 'unknown.example.com' } } } });
    expect(result.errors).toBeUndefined();
    expect(result.data?.updateDeliveryServer).toMatchObject({ name: 'Moved', status: 'PAUSED', webhook: { status: 'FAILED', url: server.webhook.url, registeredAt: null } });
    expect(result.data?.updateDeliveryServer.webhook.error).toEqual(expect.any(String));
  });

  it('an update that leaves the API credentials as they are (a name, the SMTP relay, the same API block again) calls no provider', async () => {
    const { server: sesOne } = await sesServer({ ses: sesKeys('us-east-1') });
    const { server: mailgunOne } = await h.server({ provider: 'MAILGUN', credentials: { mailgun: { apiKey: 'key-test', domain: 'mg.example.com' } } });
    const before = providerCalls();

    await update(mailgunOne.id, { name: 'Renamed' });
    await update(mailgunOne.id, { credentials: { mailgun: { apiKey: 'key-test', domain: 'mg.example.com' } } });
    const relayed = await update(sesOne.id, { credentials: { smtp: { host: 'email-smtp.us-east-1.amazonaws.com', port: 587, security: 'STARTTLS', username: KEY, password: 'smtp-password' } } });
    expect(relayed.smtp).toMatchObject({ host: 'email-smtp.us-east-1.amazonaws.com' });
    expect(relayed.status).toBe('PAUSED');
    expect(providerCalls()).toBe(before);
  });

  describe('while a registration is under way', () => {
    /** Creates an SES server whose registration waits at SNS Subscribe while `meanwhile` runs on it. */
    async function createHeld(credentials: Record<string, unknown>, meanwhile: (id: string) => Promise<void>): Promise<ServerView> {
      const agency = await newAgency(h.t);
      const held = ses.holdNextSns('Subscribe');
      const creating = createServer(h.t, { accountId: agency.id, name: 'Held SES', provider: 'AMAZON_SES', senderAddress: 'news@example.com', credentials });
      let during: Promise<void> = Promise.resolve();
      try {
        await held.reached;
        const listed = await h.t.gqlOk<{ deliveryServers: { id: string }[] }>(`query($accountId: ID) { deliveryServers(accountId: $accountId) { id } }`, { accountId: agency.id });
        const id = listed.deliveryServers[0].id;
        const [{ updated_at: before }] = await h.sql<{ updated_at: string }>(`SELECT updated_at::text FROM delivery_servers WHERE id = $1`, [id]);
        let settled = false;
        during = meanwhile(id).finally(() => (settled = true));
        // Its write has landed (a re-registration it starts then waits for the held one's lock).
        await waitFor(
          'the update saved',
          async () => settled || (await h.sql<{ updated_at: string }>(`SELECT updated_at::text FROM delivery_servers WHERE id = $1`, [id]))[0].updated_at !== before,
          10_000,
        );
      } finally {
        held.release();
      }
      await during;
      return creating;
    }

    it('an update saved meanwhile (the SMTP relay) keeps the configuration set the registration made: it is merged into the new credentials', async () => {
      const relay = { host: 'email-smtp.us-east-1.amazonaws.com', port: 587, security: 'STARTTLS', username: KEY, password: 'smtp-password' };
      const server = await createHeld({ ses: sesKeys('us-east-1') }, async (id) => {
        await update(id, { credentials: { smtp: relay } });
      });
      expect(server.webhook).toMatchObject({ status: 'PENDING', error: null });
      expect(server.smtp).toMatchObject({ host: relay.host, port: 587 });
      expect(await apiTest(server.id)).toMatchObject({ ok: true, error: null });
      expect(lastSend().configurationSetName).toBe(`mailroute-${server.id}`);
    });

    it('a region change saved meanwhile wins: the registration for the old region is not recorded over the new one', async () => {
      const created = await createHeld({ ses: sesKeys('us-east-1') }, async (id) => {
        await update(id, { credentials: { ses: sesKeys('eu-west-1') } });
      });
      // The update's registration (which waited for the create's) recorded the webhook.
      const server = (await h.t.gqlOk<{ deliveryServer: ServerView }>(`query($id: ID!) { deliveryServer(id: $id) { ${SERVER_FIELDS} } }`, { id: created.id })).deliveryServer;
      const setName = `mailroute-${server.id}`;
      const newTopic = topicOfSet('eu-west-1', setName) ?? '';
      const oldTopic = topicOfSet('us-east-1', setName) ?? '';
      expect(newTopic).toMatch(/^arn:aws:sns:eu-west-1:/);
      expect(oldTopic).toMatch(/^arn:aws:sns:us-east-1:/);
      expect((await confirm(server, oldTopic)).status).toBe(401);
      expect((await confirm(server, newTopic)).status).toBe(200);
      expect(await apiTest(server.id)).toMatchObject({ ok: true, error: null });
      expect(lastSend()).toEqual({ region: 'eu-west-1', configurationSetName: setName });
    });
  });
});
