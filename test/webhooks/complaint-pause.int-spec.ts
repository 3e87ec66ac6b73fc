import { randomUUID } from 'node:crypto';
import { MessageStore } from '../../src/modules/messages/message-store';
import { type ServerView, verifyAndActivate } from '../factories/delivery-servers';
import { SendGridFake } from '../fakes/sendgrid-fake';
import { sendGridEvent, sendGridHookId, xMessageId } from './helpers';
import { WebhookHarness } from './webhook-harness';

interface PauseView {
  status: string;
  pausedReason: string | null;
  reputation: { sent: number; complained: number; complaintRate: number };
}

/**
 * Sent messages are inserted as rows (WebhookHarness.sentMessage), as the dispatch worker leaves
 * them after the provider accepted them: what is under test is the count over the window and the
 * pause, not dispatch (covered by the messages tests). Complaints arrive as signed SendGrid posts.
 */
describe('automatic pause of a server whose 24 h complaint rate goes above COMPLAINT_PAUSE_RATE', () => {
  const fake = new SendGridFake({ authenticatedDomains: [{ domain: 'brand.example', valid: true }] });
  let h: WebhookHarness;

  beforeAll(async () => {
    await fake.start();
    h = await WebhookHarness.start({ SENDGRID_API_URL: fake.url, COMPLAINT_PAUSE_MIN_SENT: '10', COMPLAINT_PAUSE_RATE: '0.1' });
  });
  afterAll(async () => {
    await h.close();
    await fake.stop();
  });

  /** An ACTIVE SendGrid server (verified by a test email through the fake) with `count` sent messages. */
  const activeServerWith = async (count: number) => {
    const { accountId, server } = await h.server({ provider: 'SENDGRID', senderAddress: 'news@brand.example', credentials: { sendgrid: { apiKey: 'SG.test-key' } } });
    const active: ServerView = await verifyAndActivate(h.t, server.id);
    expect(active.status).toBe('ACTIVE');
    const hookId = sendGridHookId(fake, server.webhook.url);
    const messages = [];
    for (let i = 0; i < count; i++) messages.push(await h.sentMessage(accountId, server.id, xMessageId()));
    const post = async (event: Record<string, unknown>) => {
      const res = await h.post(`/webhooks/sendgrid/${server.id}`, fake.signedPost(hookId, [event]));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ stored: 1 });
    };
    const complain = async (m: { providerMessageId: string; to: string }) => {
      await post({ email: m.to, timestamp: Math.floor(Date.now() / 1000), event: 'spamreport', sg_event_id: randomUUID(), sg_message_id: `${m.providerMessageId}.filterdrecv-1` });
    };
    const hardBounce = (m: { providerMessageId: string; to: string }) => post(sendGridEvent('bounce', m.providerMessageId, m.to, { type: 'bounce', reason: '550 5.1.1 no such user' }));
    return { serverId: server.id, messages, complain, hardBounce };
  };
  const view = async (id: string): Promise<PauseView> =>
    (await h.t.gqlOk<{ deliveryServer: PauseView }>(`query($id: ID!) { deliveryServer(id: $id) { status pausedReason reputation { sent complained complaintRate } } }`, { id }))
      .deliveryServer;

  it('mail waiting for the server it pauses is routed again, in the background of the provider\'s request', async () => {
    const { serverId, messages, complain } = await activeServerWith(10);
    const waiting = randomUUID();
    await h.sql(
      `INSERT INTO messages (id, account_id, source, from_address, to_address, subject, text, status, server_id, next_attempt_at, attempts, dispatch_seq)
       SELECT $1, account_id, 'ONE_OFF', 'news@brand.example', 'later@example.org', 'Hello', 'Hi', 'DEFERRED', server_id, now() + interval '1 hour', 0, 0
         FROM messages WHERE id = $2`,
      [waiting, messages[0].id],
    );
    await complain(messages[0]);
    await complain(messages[1]);
    expect((await view(serverId)).status).toBe('PAUSED');
    await h.t.app.get(MessageStore).reroutesDone();
    const [row] = await h.sql<{ dispatch_seq: number; next_attempt_at: Date | null }>('SELECT dispatch_seq, next_attempt_at FROM messages WHERE id = $1', [waiting]);
    expect(row.dispatch_seq).toBe(1);
  });

  it('1 complaint in 10 sent (at the 10 % limit) leaves it ACTIVE; the 2nd (20 %) pauses it with a readable reason', async () => {
    const { serverId, messages, complain } = await activeServerWith(10);

    await complain(messages[0]);
    expect(await view(serverId)).toEqual({ status: 'ACTIVE', pausedReason: null, reputation: { sent: 10, complained: 1, complaintRate: 0.1 } });

    await complain(messages[1]);
    const paused = await view(serverId);
    expect(paused).toMatchObject({ status: 'PAUSED', reputation: { sent: 10, complained: 2, complaintRate: 0.2 } });
    expect(paused.pausedReason).toBe(
      'Paused automatically: complaint rate 20% (2 of 10 messages sent in the last 24 h) is above the 10% limit; clean the list, then activate the server again',
    );

    // Activating it again is a person's decision and sticks until the next complaint.
    const data = await h.t.gqlOk<{ activateDeliveryServer: { status: string; pausedReason: string | null } }>(
      `mutation($id: ID!) { activateDeliveryServer(id: $id) { status pausedReason } }`,
      { id: serverId },
    );
    expect(data.activateDeliveryServer).toEqual({ status: 'ACTIVE', pausedReason: null });
  });

  it('never pauses a server below the minimum volume, whatever its rate', async () => {
    const { serverId, messages, complain } = await activeServerWith(3);
    for (const m of messages) await complain(m);
    expect(await view(serverId)).toEqual({ status: 'ACTIVE', pausedReason: null, reputation: { sent: 3, complained: 3, complaintRate: 1 } });
  });

  it('counts complaints as the reputation does: a hard-bounced message that complains counts, mail sent before the window does not, and the pause waits for the rate to pass the limit', async () => {
    const { serverId, messages, complain, hardBounce } = await activeServerWith(30);
    const [bouncedFirst, complainedOnly, third] = messages;
    const beforeWindow = messages[29];
    await h.sql(`UPDATE messages SET sent_at = now() - interval '25 hours' WHERE id = $1`, [beforeWindow.id]);

    // BOUNCED stays its status; its complaint is still one complained message of the 29 in the window.
    await hardBounce(bouncedFirst);
    await complain(bouncedFirst);
    await complain(beforeWindow);
    await complain(complainedOnly);
    expect(await view(serverId)).toEqual({ status: 'ACTIVE', pausedReason: null, reputation: { sent: 29, complained: 2, complaintRate: 2 / 29 } });

    await complain(third);
    const paused = await view(serverId);
    expect(paused).toMatchObject({ status: 'PAUSED', reputation: { sent: 29, complained: 3, complaintRate: 3 / 29 } });
    expect(paused.pausedReason).toBe(
      'Paused automatically: complaint rate 10.34% (3 of 29 messages sent in the last 24 h) is above the 10% limit; clean the list, then activate the server again',
    );
  });

  it('leaves a server a person paused as it is (no system reason written over it)', async () => {
    const { serverId, messages, complain } = await activeServerWith(10);
    await h.t.gqlOk(`mutation($id: ID!) { pauseDeliveryServer(id: $id) { id } }`, { id: serverId });
    for (const m of messages.slice(0, 5)) await complain(m);
    expect(await view(serverId)).toMatchObject({ status: 'PAUSED', pausedReason: null, reputation: { complained: 5 } });
  });
});
