import { randomUUID } from 'node:crypto';
import { ElasticEmailFake } from '../fakes/elastic-email-fake';
import { MailgunFake } from '../fakes/mailgun-fake';
import { SendGridFake } from '../fakes/sendgrid-fake';
import { SesFake } from '../fakes/ses-fake';
import { SparkPostFake } from '../fakes/sparkpost-fake';
import { WebhookHarness, type WebhookPost } from './webhook-harness';

const SES_KEY = 'AKIATESTKEY00002';

export interface Endpoint {
  slug: string;
  serverId: string;
  /** Path including any query the provider needs (Elastic Email's secret). */
  path: string;
  /** A valid, authenticated post for a message nobody sent. */
  valid: () => WebhookPost;
}

export interface SignedEndpoints {
  h: WebhookHarness;
  /** The agency that owns every server. */
  accountId: string;
  /** One server per provider, by its URL slug, with a valid signed post for it. */
  endpoints: Record<string, Endpoint>;
  stop(): Promise<void>;
}

/**
 * The app listening (SparkPost pings its target), the five provider fakes, and one server per
 * provider whose webhooks are registered at its fake: what tests of the endpoint itself need.
 */
export async function startSignedEndpoints(): Promise<SignedEndpoints> {
  const sendgrid = new SendGridFake();
  const mailgun = new MailgunFake();
  const sparkpost = new SparkPostFake();
  const ses = new SesFake({ accessKeyIds: [SES_KEY] });
  const elastic = new ElasticEmailFake();
  const endpoints: Record<string, Endpoint> = {};
  const [sg, mg, sp, aws, ee] = await Promise.all([sendgrid.start(), mailgun.start(), sparkpost.start(), ses.start(), elastic.start()]);
  const h = await WebhookHarness.start(
    { SENDGRID_API_URL: sg, MAILGUN_API_URL: mg, SPARKPOST_API_URL: sp, SES_ENDPOINT: aws, SNS_ENDPOINT: aws, ELASTICEMAIL_API_URL: ee },
    { listen: true },
  );
  const created = await h.server({ provider: 'SENDGRID', credentials: { sendgrid: { apiKey: 'SG.test-key' } } });
  const accountId = created.accountId;
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
  // The owner sees the secret masked: the notification URL with its secret is the one registered at the fake.
  const eeHook = [...elastic.webhooks.values()].find((w) => w.URL.startsWith(`${h.t.config.publicUrl}/webhooks/elasticemail/${eeServer.id}?`));
  if (!eeHook) throw new Error('no Elastic Email notification registered at the fake');
  const eeUrl = new URL(eeHook.URL);
  endpoints.elasticemail = {
    slug: 'elasticemail',
    serverId: eeServer.id,
    path: `${eeUrl.pathname}${eeUrl.search}`,
    valid: () => ({ rawBody: Buffer.from(JSON.stringify({ status: 'Sent', messageid: 'nobody', to: 'x@example.org', transaction: 't' })), headers: { 'content-type': 'application/json' } }),
  };
  return {
    h,
    accountId,
    endpoints,
    async stop() {
      await h.close();
      await Promise.all([sendgrid.stop(), mailgun.stop(), sparkpost.stop(), ses.stop(), elastic.stop()]);
    },
  };
}
