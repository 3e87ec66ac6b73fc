import { randomUUID } from 'node:crypto';
import { ElasticEmailFake } from '../fakes/elastic-email-fake';
import { WebhookHarness } from './webhook-harness';

/** Elastic Email notifications (authenticated by the secret in the registered URL): what each outcome does to a message. */
describe('Elastic Email webhooks: outcomes', () => {
  const fake = new ElasticEmailFake();
  let h: WebhookHarness;
  let accountId: string;
  let serverId: string;
  let path: string;

  beforeAll(async () => {
    const url = await fake.start();
    h = await WebhookHarness.start({ ELASTICEMAIL_API_URL: url });
    const created = await h.server({ provider: 'ELASTIC_EMAIL', credentials: { elasticEmail: { apiKey: 'ee-test-key' } } });
    accountId = created.accountId;
    serverId = created.server.id;
    const registered = [...fake.webhooks.values()].find((w) => w.URL.startsWith(`${h.t.config.publicUrl}/webhooks/elasticemail/${serverId}?`));
    if (!registered) throw new Error('no Elastic Email notification registered at the fake');
    const at = new URL(registered.URL);
    path = `${at.pathname}${at.search}`;
  });
  afterAll(async () => {
    await h?.close();
    await fake.stop();
  });

  const notify = (fields: Record<string, string>) =>
    h.post(path, { rawBody: Buffer.from(new URLSearchParams(fields).toString()), headers: { 'content-type': 'application/x-www-form-urlencoded' } });

  it('an error the receiver or a filter raised fails the message; a lasting address error bounces and suppresses; a temporary one bounces without suppressing', async () => {
    const cases = [
      { category: 'ContentFilter', status: 'FAILED', event: 'REJECTED', code: 'MESSAGE_REJECTED', suppressed: false },
      { category: 'NoMailbox', status: 'BOUNCED', event: 'HARD_BOUNCE', code: 'RECIPIENT_REJECTED', suppressed: true },
      { category: 'Timeout', status: 'BOUNCED', event: 'SOFT_BOUNCE', code: 'RECIPIENT_REJECTED', suppressed: false },
    ];
    const sent = [];
    for (const c of cases) {
      const m = await h.sentMessage(accountId, serverId, `ee-${randomUUID()}`);
      sent.push(m);
      const res = await notify({ status: 'Error', category: c.category, messageid: m.providerMessageId, to: m.to, transaction: randomUUID() });
      expect(res.status).toBe(200);
    }
    const suppressed = (await h.suppressions(accountId)).map((s) => s.email);
    for (const [i, c] of cases.entries()) {
      const m = await h.message(sent[i].id);
      expect({ category: c.category, status: m.status, event: m.events.map((e) => e.type), code: m.error?.code, suppressed: suppressed.includes(sent[i].to) }).toEqual({
        ...c,
        event: [c.event],
      });
    }
  });

  it('leaves a delivered message delivered when a later error arrives for it', async () => {
    const m = await h.sentMessage(accountId, serverId, `ee-${randomUUID()}`, { status: 'DELIVERED' });
    expect((await notify({ status: 'Error', category: 'Timeout', messageid: m.providerMessageId, to: m.to, transaction: randomUUID() })).status).toBe(200);
    expect(await h.message(m.id)).toMatchObject({ status: 'DELIVERED', error: null, events: [{ type: 'SOFT_BOUNCE' }] });
  });
});
