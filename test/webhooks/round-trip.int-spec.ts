import { verifyAndActivate } from '../factories/delivery-servers';
import { SendGridFake } from '../fakes/sendgrid-fake';
import { waitFor } from '../utils/wait-for';
import { sendGridHookId } from './helpers';
import { WebhookHarness } from './webhook-harness';

interface SentView {
  id: string;
  status: string;
  providerMessageId: string | null;
  error: { code: string } | null;
}
const SEND = `mutation($input: SendEmailInput!) { sendEmail(input: $input) { id status providerMessageId error { code } } }`;
const READ = `query($id: ID!) { message(id: $id) { id status providerMessageId error { code } } }`;

describe('round trip: sendEmail through SendGrid, its signed webhook back, the next send SUPPRESSED', () => {
  const fake = new SendGridFake({ authenticatedDomains: [{ domain: 'brand.example', valid: true }] });
  let h: WebhookHarness;

  beforeAll(async () => {
    await fake.start();
    h = await WebhookHarness.start({ SENDGRID_API_URL: fake.url, RETRY_BASE_MS: '100' });
  });
  afterAll(async () => {
    await h.close();
    await fake.stop();
  });

  const read = async (id: string): Promise<SentView> => (await h.t.gqlOk<{ message: SentView }>(READ, { id })).message;

  it('delivers, then a hard bounce arrives: BOUNCED, suppressed, and a second send to the address never reaches SendGrid', async () => {
    const { accountId, server } = await h.server({ provider: 'SENDGRID', senderAddress: 'news@brand.example', credentials: { sendgrid: { apiKey: 'SG.test-key' } } });
    await verifyAndActivate(h.t, server.id);
    const hookId = sendGridHookId(fake, server.webhook.url);
    const to = 'gone@reader.example';
    const input = { accountId, from: 'news@brand.example', to, subject: 'Hello', text: 'Hi' };

    const queued = (await h.t.gqlOk<{ sendEmail: SentView }>(SEND, { input })).sendEmail;
    const sent = await waitFor(`message ${queued.id} SENT`, async () => {
      const m = await read(queued.id);
      return m.status === 'SENT' ? m : null;
    });
    const accepted = fake.accepted.find((a) => a.to.includes(to));
    expect(sent.providerMessageId).toBe(accepted?.providerMessageId);

    const sgMessageId = `${sent.providerMessageId ?? ''}.filterdrecv-p3mdgm1-1.0`;
    const now = Math.floor(Date.now() / 1000);
    const batch = [
      { email: to, timestamp: now, event: 'delivered', sg_event_id: 'ev-delivered-1', sg_message_id: sgMessageId },
      { email: to, timestamp: now + 1, event: 'bounce', type: 'bounce', sg_event_id: 'ev-bounce-1', sg_message_id: sgMessageId, reason: '550 5.1.1 mailbox gone' },
    ];
    const res = await h.post(`/webhooks/sendgrid/${server.id}`, fake.signedPost(hookId, batch));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: 2, stored: 2, duplicates: 0, unknown: 0 });
    expect((await read(queued.id)).status).toBe('BOUNCED');
    expect(await h.suppressions(accountId)).toEqual([{ email: to, reason: 'HARD_BOUNCE' }]);

    const before = fake.accepted.length;
    const again = (await h.t.gqlOk<{ sendEmail: SentView }>(SEND, { input: { ...input, subject: 'Hello again' } })).sendEmail;
    expect(again).toMatchObject({ status: 'SUPPRESSED', error: { code: 'SUPPRESSED' } });
    expect(fake.accepted.length).toBe(before);
  });
});
