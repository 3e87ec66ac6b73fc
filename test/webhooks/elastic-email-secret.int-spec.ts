import { randomUUID } from 'node:crypto';
import { runMigrations } from '../../src/infra/database/run-migrations';
import { newToken } from '../factories/accounts';
import { ElasticEmailFake } from '../fakes/elastic-email-fake';
import { WebhookHarness } from './webhook-harness';

interface WebhookView {
  status: string;
  url: string | null;
  error: string | null;
}

/**
 * Elastic Email signs nothing: the secret in the URL registered there is what authenticates its
 * notifications. Re-registering must never leave that URL and the stored secret apart, and the
 * API shows the secret only where the owner must paste the URL into Elastic Email themselves.
 */
describe('Elastic Email webhook secret: kept across re-registrations, shown only when it must be pasted', () => {
  const fake = new ElasticEmailFake();
  let h: WebhookHarness;
  let publicUrl: string;

  beforeAll(async () => {
    const url = await fake.start();
    h = await WebhookHarness.start({ ELASTICEMAIL_API_URL: url });
    publicUrl = h.t.config.publicUrl;
  });
  afterAll(async () => {
    await h?.close();
    await fake.stop();
  });
  afterEach(() => {
    fake.webhookApi = true;
    fake.webhookWriteFailure = null;
    fake.fail({ kind: 'none' });
  });

  /** A server of a new agency, and a token of that agency (the owner's own view). */
  async function ownedServer(): Promise<{ accountId: string; serverId: string; ownerToken: string; webhook: WebhookView }> {
    const { accountId, server } = await h.server({ provider: 'ELASTIC_EMAIL', credentials: { elasticEmail: { apiKey: 'ee-test-key' } } });
    const { token } = await newToken(h.t, accountId);
    return { accountId, serverId: server.id, ownerToken: token, webhook: server.webhook };
  }

  /** The URL Elastic Email holds for the server, i.e. the one its notifications are sent to. */
  function urlAtElasticEmail(serverId: string): string {
    const hooks = [...fake.webhooks.values()].filter((w) => w.URL.startsWith(`${publicUrl}/webhooks/elasticemail/${serverId}?`));
    expect(hooks).toHaveLength(1);
    return hooks[0].URL;
  }

  async function reregister(serverId: string, token?: string): Promise<WebhookView> {
    const data = await h.t.gqlOk<{ registerWebhooks: { webhook: WebhookView } }>(
      `mutation($id: ID!) { registerWebhooks(id: $id) { webhook { status url error } } }`,
      { id: serverId },
      token,
    );
    return data.registerWebhooks.webhook;
  }

  async function ownerView(serverId: string, token: string): Promise<WebhookView> {
    const data = await h.t.gqlOk<{ deliveryServer: { webhook: WebhookView } }>(`query($id: ID!) { deliveryServer(id: $id) { webhook { status url error } } }`, { id: serverId }, token);
    return data.deliveryServer.webhook;
  }

  /** Elastic Email's classic notification (GET, fields in the query) of a hard bounce, sent to `url`. */
  async function notifyBounce(url: string, accountId: string, serverId: string): Promise<{ status: number; messageStatus: string }> {
    const sent = await h.sentMessage(accountId, serverId, `ee-${randomUUID()}`);
    const fields = new URLSearchParams({ status: 'Error', category: 'NoMailbox', messageid: sent.providerMessageId, to: sent.to, transaction: randomUUID(), date: '2026-01-02 10:11:12' });
    const target = new URL(url);
    const res = await h.t.http().get(`${target.pathname}${target.search}&${fields.toString()}`);
    return { status: res.status, messageStatus: (await h.message(sent.id)).status };
  }

  const secretOf = (url: string): string => new URL(url).searchParams.get('secret') ?? '';
  const MASKED = '****';

  /** The server's `webhook` column as stored (in the clear, unlike the sealed webhook state). */
  async function storedWebhook(serverId: string): Promise<{ status: string; url: string | null; error: string | null }> {
    const [row] = await h.sql<{ webhook: { status: string; url: string | null; error: string | null } }>('SELECT webhook FROM delivery_servers WHERE id = $1', [serverId]);
    return row.webhook;
  }

  it('a re-registration that fails keeps the secret Elastic Email still calls with: its notifications are accepted', async () => {
    const { accountId, serverId, webhook } = await ownedServer();
    expect(webhook.status).toBe('REGISTERED');
    const registered = urlAtElasticEmail(serverId);

    fake.webhookWriteFailure = { status: 500, body: { Error: 'Internal server error' } };
    expect((await reregister(serverId)).status).toBe('FAILED');
    fake.webhookWriteFailure = null;
    fake.fail({ kind: 'status', status: 503, body: { Error: 'Service unavailable' } });
    expect((await reregister(serverId)).status).toBe('FAILED');
    fake.fail({ kind: 'none' });

    expect(urlAtElasticEmail(serverId)).toBe(registered);
    expect(await notifyBounce(registered, accountId, serverId)).toEqual({ status: 200, messageStatus: 'BOUNCED' });
  });

  it('a re-registration that succeeds keeps the secret: the URL at Elastic Email does not change and keeps working', async () => {
    const { accountId, serverId } = await ownedServer();
    const registered = urlAtElasticEmail(serverId);

    expect((await reregister(serverId)).status).toBe('REGISTERED');
    expect(urlAtElasticEmail(serverId)).toBe(registered);
    expect(await notifyBounce(registered, accountId, serverId)).toEqual({ status: 200, messageStatus: 'BOUNCED' });
  });

  it("the owner sees a registered or failed webhook's URL with the secret masked, and no secret in its error", async () => {
    const { serverId, ownerToken, webhook } = await ownedServer();
    const registered = urlAtElasticEmail(serverId);
    const secret = secretOf(registered);
    const masked = `${publicUrl}/webhooks/elasticemail/${serverId}?secret=****`;
    expect(secret).not.toBe('');
    expect(webhook).toMatchObject({ status: 'REGISTERED', url: masked, error: null });
    expect(await ownerView(serverId, ownerToken)).toMatchObject({ status: 'REGISTERED', url: masked, error: null });

    // The provider's error echoes the URL it was sent.
    fake.webhookWriteFailure = { status: 500, body: { Error: `Could not save the notification URL ${registered}` } };
    const failed = await reregister(serverId, ownerToken);
    expect(failed).toMatchObject({ status: 'FAILED', url: masked });
    expect(failed.error).toContain('Could not save the notification URL');
    const shown = await ownerView(serverId, ownerToken);
    expect(shown).toMatchObject({ status: 'FAILED', url: masked });
    expect(JSON.stringify([failed, shown])).not.toContain(secret);
  });

  it('stores no secret in the webhook column, whatever the outcome: the URL and any error quoting it are stored masked', async () => {
    const { serverId } = await ownedServer();
    const secret = secretOf(urlAtElasticEmail(serverId));
    const masked = `${publicUrl}/webhooks/elasticemail/${serverId}?secret=****`;
    expect(await storedWebhook(serverId)).toMatchObject({ status: 'REGISTERED', url: masked, error: null });

    fake.webhookWriteFailure = { status: 500, body: { Error: `Could not save the notification URL ${urlAtElasticEmail(serverId)}` } };
    expect((await reregister(serverId)).status).toBe('FAILED');
    expect(await storedWebhook(serverId)).toMatchObject({ status: 'FAILED', url: masked });
    fake.webhookWriteFailure = null;

    fake.webhookApi = false;
    const notSupported = await reregister(serverId);
    expect(notSupported.url).toBe(`${publicUrl}/webhooks/elasticemail/${serverId}?secret=${secret}`);
    const stored = await storedWebhook(serverId);
    expect(stored).toMatchObject({ status: 'NOT_SUPPORTED', url: masked, error: expect.stringContaining(masked) });
    expect(JSON.stringify(stored)).not.toContain(secret);
  });

  it('rows stored before the URL was masked (the secret in the clear) keep working, and MaskWebhookSecrets masks them', async () => {
    const registered = await ownedServer();
    fake.webhookApi = false;
    const manual = await ownedServer();
    const pasted = manual.webhook.url ?? '';
    const registeredUrl = urlAtElasticEmail(registered.serverId);
    // As a registration stored them before: the URL (and the NOT_SUPPORTED step quoting it, as shown) in the clear.
    const legacy = (serverId: string, url: string, error: string | null) =>
      h.sql(`UPDATE delivery_servers SET webhook = webhook || jsonb_build_object('url', $2::text, 'error', $3::text) WHERE id = $1`, [serverId, url, error]);
    await legacy(registered.serverId, registeredUrl, null);
    await legacy(manual.serverId, pasted, manual.webhook.error);
    expect((await storedWebhook(manual.serverId)).error).toContain(pasted);

    const views = async () => [await ownerView(registered.serverId, registered.ownerToken), await ownerView(manual.serverId, manual.ownerToken)];
    const expected = [
      { status: 'REGISTERED', url: `${publicUrl}/webhooks/elasticemail/${registered.serverId}?secret=${MASKED}`, error: null },
      { status: 'NOT_SUPPORTED', url: pasted, error: manual.webhook.error },
    ];
    expect(await views()).toEqual(expected);

    await h.sql(`DELETE FROM typeorm_migrations WHERE name = 'MaskWebhookSecrets1796623381220'`);
    expect(await runMigrations(h.t.databaseUrl)).toEqual(['MaskWebhookSecrets1796623381220']);
    expect(await storedWebhook(registered.serverId)).toMatchObject({ url: `${publicUrl}/webhooks/elasticemail/${registered.serverId}?secret=${MASKED}` });
    const stored = await storedWebhook(manual.serverId);
    expect(stored).toMatchObject({ url: `${publicUrl}/webhooks/elasticemail/${manual.serverId}?secret=${MASKED}`, error: expect.stringContaining(`?secret=${MASKED}, tick`) });
    expect(JSON.stringify(stored)).not.toContain(secretOf(pasted));
    expect(JSON.stringify(await storedWebhook(registered.serverId))).not.toContain(secretOf(registeredUrl));
    expect(await views()).toEqual(expected);
    expect(await notifyBounce(pasted, manual.accountId, manual.serverId)).toEqual({ status: 200, messageStatus: 'BOUNCED' });
  });

  it('NOT_SUPPORTED: the owner sees the full URL to paste, and it keeps authenticating after a re-registration', async () => {
    fake.webhookApi = false;
    const { accountId, serverId, ownerToken, webhook } = await ownedServer();
    expect(webhook.status).toBe('NOT_SUPPORTED');
    const pasted = webhook.url ?? '';
    expect(pasted).toMatch(new RegExp(`^${publicUrl}/webhooks/elasticemail/${serverId}\\?secret=[A-Za-z0-9_-]{32}$`));
    expect(webhook.error).toContain(pasted);
    expect(JSON.stringify(await storedWebhook(serverId))).not.toContain(secretOf(pasted));
    expect(await notifyBounce(pasted, accountId, serverId)).toEqual({ status: 200, messageStatus: 'BOUNCED' });

    const again = await reregister(serverId, ownerToken);
    expect(again).toMatchObject({ status: 'NOT_SUPPORTED', url: pasted });
    expect((await ownerView(serverId, ownerToken)).url).toBe(pasted);
    expect(await notifyBounce(pasted, accountId, serverId)).toEqual({ status: 200, messageStatus: 'BOUNCED' });
  });
});
