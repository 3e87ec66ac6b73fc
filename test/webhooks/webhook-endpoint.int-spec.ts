import { randomUUID } from 'node:crypto';
import { ElasticEmailFake } from '../fakes/elastic-email-fake';
import { MailgunFake } from '../fakes/mailgun-fake';
import { SendGridFake } from '../fakes/sendgrid-fake';
import { SesFake } from '../fakes/ses-fake';
import { SparkPostFake } from '../fakes/sparkpost-fake';
import { seededBytes, WebhookHarness, type WebhookPost } from './webhook-harness';

const SES_KEY = 'AKIATESTKEY00002';
const MB = 1024 * 1024;

interface Endpoint {
  slug: string;
  serverId: string;
  /** Path including any query the provider needs (Elastic Email's secret). */
  path: string;
  /** A valid, authenticated post for a message nobody sent. */
  valid: () => WebhookPost;
}

describe('POST /webhooks/{provider}/{serverId}: routing, size cap, Elastic Email, and fuzz', () => {
  const sendgrid = new SendGridFake();
  const mailgun = new MailgunFake();
  const sparkpost = new SparkPostFake();
  const ses = new SesFake({ accessKeyIds: [SES_KEY] });
  const elastic = new ElasticEmailFake();
  let h: WebhookHarness;
  let accountId: string;
  const endpoints: Record<string, Endpoint> = {};

  beforeAll(async () => {
    const [sg, mg, sp, aws, ee] = await Promise.all([sendgrid.start(), mailgun.start(), sparkpost.start(), ses.start(), elastic.start()]);
    h = await WebhookHarness.start(
      { SENDGRID_API_URL: sg, MAILGUN_API_URL: mg, SPARKPOST_API_URL: sp, SES_ENDPOINT: aws, SNS_ENDPOINT: aws, ELASTICEMAIL_API_URL: ee },
      { listen: true },
    );
    const created = await h.server({ provider: 'SENDGRID', credentials: { sendgrid: { apiKey: 'SG.test-key' } } });
    accountId = created.accountId;
    const make = async (slug: string, input: Record<string, unknown>): Promise<{ id: string; url: string }> => {
      const s = await h.server({ ...input, accountId });
      expect(['REGISTERED', 'PENDING']).toContain(s.server.webhook.status);
      return { id: s.server.id, url: s.server.webhook.url ?? '' };
    };
    const sgHook = [...sendgrid.webhooks.values()].find((w) => w.url === created.server.webhook.url);
    const sgEvent = () => [{ email: 'x@example.org', event: 'delivered', sg_event_id: randomUUID(), sg_message_id: 'nobody.filter1', timestamp: Math.floor(Date.now() / 1000) }];
    endpoints.sendgrid = { slug: 'sendgrid', serverId: created.server.id, path: `/webhooks/sendgrid/${created.server.id}`, valid: () => sendgrid.signedPost(sgHook?.id ?? '', sgEvent()) };

    const mgServer = await make('mailgun', { provider: 'MAILGUN', credentials: { mailgun: { apiKey: 'key-test', domain: 'mg.example.com' } } });
    endpoints.mailgun = {
      slug: 'mailgun',
      serverId: mgServer.id,
      path: `/webhooks/mailgun/${mgServer.id}`,
      valid: () => mailgun.signedPost({ id: randomUUID(), event: 'delivered', timestamp: Date.now() / 1000, recipient: 'x@example.org', message: { headers: { 'message-id': 'nobody@mg.example.com' } } }),
    };

    const spServer = await make('sparkpost', { provider: 'SPARKPOST', credentials: { sparkpost: { apiKey: 'sp-test-key' } } });
    const spHook = [...sparkpost.webhooks.values()].find((w) => w.target === spServer.url);
    const spAuth = `Basic ${Buffer.from(`${spHook?.auth_credentials?.username ?? ''}:${spHook?.auth_credentials?.password ?? ''}`).toString('base64')}`;
    endpoints.sparkpost = {
      slug: 'sparkpost',
      serverId: spServer.id,
      path: `/webhooks/sparkpost/${spServer.id}`,
      valid: () => ({
        rawBody: Buffer.from(JSON.stringify([{ msys: { message_event: { type: 'delivery', event_id: randomUUID(), transmission_id: '1', rcpt_to: 'x@example.org' } } }])),
        headers: { 'content-type': 'application/json', authorization: spAuth },
      }),
    };

    const sesServer = await make('ses', { provider: 'AMAZON_SES', credentials: { ses: { accessKeyId: SES_KEY, secretAccessKey: 'y'.repeat(40), region: 'us-east-1' } } });
    const topic = [...ses.topics.values()].find((t) => t.subscriptions.some((s) => s.endpoint === sesServer.url));
    endpoints.ses = {
      slug: 'ses',
      serverId: sesServer.id,
      path: `/webhooks/ses/${sesServer.id}`,
      valid: () => ses.notification(topic?.arn ?? '', { eventType: 'Delivery', mail: { messageId: 'nobody' }, delivery: { recipients: ['x@example.org'] } }),
    };

    const eeServer = await make('elasticemail', { provider: 'ELASTIC_EMAIL', credentials: { elasticEmail: { apiKey: 'ee-test-key' } } });
    const eeUrl = new URL(eeServer.url);
    endpoints.elasticemail = {
      slug: 'elasticemail',
      serverId: eeServer.id,
      path: `${eeUrl.pathname}${eeUrl.search}`,
      valid: () => ({ rawBody: Buffer.from(JSON.stringify({ status: 'Sent', messageid: 'nobody', to: 'x@example.org', transaction: 't' })), headers: { 'content-type': 'application/json' } }),
    };
  });
  afterAll(async () => {
    await h?.close();
    await Promise.all([sendgrid.stop(), mailgun.stop(), sparkpost.stop(), ses.stop(), elastic.stop()]);
  });

  it('every endpoint accepts its valid post (events for unknown messages are counted, not errors)', async () => {
    for (const e of Object.values(endpoints)) {
      const res = await h.post(e.path, e.valid());
      expect({ slug: e.slug, status: res.status }).toEqual({ slug: e.slug, status: 200 });
      expect(res.body).toEqual({ received: 1, stored: 0, duplicates: 0, unknown: 1 });
    }
  });

  it('answers 404 to an unknown provider, an unknown or malformed server id, and a server of another provider', async () => {
    const sg = endpoints.sendgrid;
    const post = sg.valid();
    for (const path of [
      `/webhooks/postmark/${sg.serverId}`,
      `/webhooks/smtp/${sg.serverId}`,
      `/webhooks/sendgrid/${randomUUID()}`,
      `/webhooks/sendgrid/not-a-uuid`,
      `/webhooks/mailgun/${sg.serverId}`,
      `/webhooks/ses/${endpoints.mailgun.serverId}`,
      `/webhooks/sendgrid`,
    ]) {
      const res = await h.post(path, post);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
    }
    expect((await h.t.http().get(`/webhooks/sendgrid/${sg.serverId}`)).status).toBe(404);
  });

  it('answers 413 to a body over 1 MB, whatever its type, and stores nothing', async () => {
    const before = await h.countEvents();
    const big = (fill: string) => Buffer.from(JSON.stringify([{ pad: fill.repeat(MB) }]));
    const ses = await h.post(endpoints.ses.path, { rawBody: big('a'), headers: { 'content-type': 'text/plain; charset=UTF-8' } });
    expect(ses.status).toBe(413);
    // Under the app's 4 MB JSON limit, so parsed first and refused by the webhook cap.
    const sg = await h.post(endpoints.sendgrid.path, { ...endpoints.sendgrid.valid(), rawBody: big('b') });
    expect(sg.status).toBe(413);
    // Valid JSON: a malformed JSON body meets the app's JSON parser first and is a 400, refused either way.
    const sp = await h.post(endpoints.sparkpost.path, { ...endpoints.sparkpost.valid(), rawBody: Buffer.from(`[${' '.repeat(MB)}]`) });
    expect(sp.status).toBe(413);
    expect(JSON.stringify(ses.body)).not.toMatch(/stack|at /);
    expect(await h.countEvents()).toBe(before);
  });

  it('Elastic Email: the secret in the URL authenticates GET and form posts; a wrong or missing secret is 401', async () => {
    const e = endpoints.elasticemail;
    const bounced = await h.sentMessage(accountId, e.serverId, `ee-${randomUUID()}`);
    const query = new URLSearchParams({ status: 'Error', category: 'NoMailbox', messageid: bounced.providerMessageId, to: bounced.to, transaction: 't1', date: '2026-01-02 10:11:12' });
    const get = await h.t.http().get(`${e.path}&${query.toString()}`);
    expect(get.status).toBe(200);
    expect(get.body).toEqual({ received: 1, stored: 1, duplicates: 0, unknown: 0 });
    expect((await h.message(bounced.id)).status).toBe('BOUNCED');
    expect(await h.suppressions(accountId)).toEqual(expect.arrayContaining([{ email: bounced.to, reason: 'HARD_BOUNCE' }]));

    const delivered = await h.sentMessage(accountId, e.serverId, `ee-${randomUUID()}`);
    const form = new URLSearchParams({ status: 'Sent', messageid: delivered.providerMessageId, to: delivered.to, transaction: 't2' });
    const posted = await h.post(e.path, { rawBody: Buffer.from(form.toString()), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(posted.status).toBe(200);
    expect((await h.message(delivered.id)).status).toBe('DELIVERED');

    const before = await h.countEvents();
    const other = await h.sentMessage(accountId, e.serverId, `ee-${randomUUID()}`);
    const body = { rawBody: Buffer.from(JSON.stringify({ status: 'AbuseReport', messageid: other.providerMessageId, to: other.to })), headers: { 'content-type': 'application/json' } };
    expect((await h.post(`/webhooks/elasticemail/${e.serverId}`, body)).status).toBe(401);
    expect((await h.post(`/webhooks/elasticemail/${e.serverId}?secret=wrong`, body)).status).toBe(401);
    expect(await h.countEvents()).toBe(before);
    expect((await h.message(other.id)).status).toBe('SENT');
  });

  it('fuzz: random and truncated bodies answer only 400/401, never 500, and store nothing', async () => {
    const before = await h.countEvents();
    const random = seededBytes(20261123);
    const types = ['application/json', 'text/plain; charset=UTF-8', 'application/x-www-form-urlencoded', 'application/octet-stream'];
    const seen = new Map<string, number[]>();
    for (const e of Object.values(endpoints)) {
      const valid = e.valid();
      const bodies: WebhookPost[] = [];
      for (let i = 0; i < 12; i++) bodies.push({ rawBody: random(1 + (i * 37) % 300), headers: { ...valid.headers, 'content-type': types[i % types.length] } });
      for (const cut of [0, 1, 2, 7, Math.floor(valid.rawBody.length / 2), valid.rawBody.length - 1]) bodies.push({ ...valid, rawBody: valid.rawBody.subarray(0, cut) });
      bodies.push({ rawBody: Buffer.from('null'), headers: { ...valid.headers, 'content-type': 'application/json' } });
      bodies.push({ rawBody: Buffer.from('{"__proto__":{"polluted":1}}'), headers: { ...valid.headers } });
      for (const body of bodies) {
        const res = await h.post(e.path, body);
        seen.set(e.slug, [...(seen.get(e.slug) ?? []), res.status]);
        expect(JSON.stringify(res.body)).not.toMatch(/stack|SELECT|INSERT|Error:/);
      }
    }
    for (const [slug, statuses] of seen) {
      expect({ slug, unexpected: statuses.filter((s) => s !== 400 && s !== 401) }).toEqual({ slug, unexpected: [] });
    }
    for (let i = 0; i < 10; i++) {
      const res = await h.post(`/webhooks/${random(6).toString('hex')}/${randomUUID()}`, { rawBody: random(50), headers: { 'content-type': 'application/json' } });
      expect([400, 404]).toContain(res.status);
    }
    expect(await h.countEvents()).toBe(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
