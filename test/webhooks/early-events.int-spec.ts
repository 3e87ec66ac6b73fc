import { DispatchWrites } from '../../src/modules/messages/dispatch-writes';
import { EarlyWebhookEvents } from '../../src/modules/webhooks/early-webhook-events';
import { TransportKind } from '../../src/providers/provider.enums';
import { SendGridFake } from '../fakes/sendgrid-fake';
import { waitFor } from '../utils/wait-for';
import { sendGridEvent, sendGridServer, xMessageId } from './helpers';
import { WebhookHarness } from './webhook-harness';

/**
 * A provider may post an event before the message's SENT record (which stores the provider's
 * id) is written: that record follows the accept in groups, and late while the database is away.
 * Such an event is kept unmatched, then applied once its message is known.
 */
describe('webhook events that arrive before their message is recorded SENT', () => {
  const fake = new SendGridFake();
  let h: WebhookHarness;
  let accountId: string;
  let serverId: string;
  let webhookId: string;
  let path: string;

  beforeAll(async () => {
    await fake.start();
    h = await WebhookHarness.start({ SENDGRID_API_URL: fake.url, SWEEP_INTERVAL_MS: '100' });
    ({ accountId, serverId, webhookId, path } = await sendGridServer(h, fake));
  });
  afterAll(async () => {
    await h.close();
    await fake.stop();
  });

  /** A message the worker is sending: the provider has it, its SENT record (and id) not yet written. */
  const sending = async (providerId: string) => {
    const m = await h.sentMessage(accountId, serverId, providerId, { status: 'SENDING' });
    // As claimed on a first attempt: no server recorded yet (the SENT record writes it).
    await h.sql(`UPDATE messages SET server_id = NULL, provider_message_id = NULL, transport = NULL, sent_at = NULL WHERE id = $1`, [m.id]);
    return m;
  };
  const recordSent = (id: string, providerId: string) =>
    h.sql(`UPDATE messages SET status = 'SENT', server_id = $3, provider_message_id = $2, transport = 'API', sent_at = now() WHERE id = $1`, [id, providerId, serverId]);
  const unmatched = async (providerId: string) =>
    (await h.sql<{ n: string }>(`SELECT count(*) AS n FROM webhook_events_unmatched WHERE provider_message_id LIKE $1`, [`${providerId}%`]))[0].n;

  it('applies a hard bounce and a drop posted early once the SENT record lands: statuses, error, suppression, stored once', async () => {
    const bouncedId = xMessageId();
    const droppedId = xMessageId();
    const bounced = await sending(bouncedId);
    const dropped = await sending(droppedId);
    const early = await h.post(
      path,
      fake.signedPost(webhookId, [
        sendGridEvent('bounce', bouncedId, bounced.to, { type: 'bounce', reason: '550 5.1.1 no such user' }),
        sendGridEvent('dropped', droppedId, dropped.to, { reason: 'Invalid' }),
      ]),
    );
    expect(early.body).toEqual({ received: 2, stored: 0, duplicates: 0, unknown: 2 });
    expect((await h.message(bounced.id)).status).toBe('SENDING');

    await recordSent(bounced.id, bouncedId);
    await recordSent(dropped.id, droppedId);
    await waitFor('the early bounce applied', async () => (await h.message(bounced.id)).status === 'BOUNCED', 10_000);
    await waitFor('the early drop applied', async () => (await h.message(dropped.id)).status === 'FAILED', 10_000);
    expect(await h.message(bounced.id)).toMatchObject({ error: { code: 'RECIPIENT_REJECTED', smtpResponseCode: 550 }, events: [{ type: 'HARD_BOUNCE' }] });
    expect(await h.message(dropped.id)).toMatchObject({ error: { code: 'MESSAGE_REJECTED' }, events: [{ type: 'REJECTED' }] });
    expect(await h.suppressions(accountId)).toEqual(expect.arrayContaining([{ email: bounced.to, reason: 'HARD_BOUNCE' }]));
    await waitFor('the adopted events gone from the unmatched table', async () => (await unmatched(bouncedId)) === '0' && (await unmatched(droppedId)) === '0', 5_000);
    expect(await h.eventTypes(bounced.id)).toEqual(['HARD_BOUNCE']);
  });

  it('finds a message whose SENT record was written alone (the last resort after failed group writes)', async () => {
    const providerId = xMessageId();
    const m = await sending(providerId);
    expect((await h.post(path, fake.signedPost(webhookId, [sendGridEvent('delivered', providerId, m.to)]))).body).toMatchObject({ unknown: 1 });
    await h.t.app.get(DispatchWrites).markSentAlone({
      messageId: m.id,
      attempt: { serverId, detail: 'via test', at: new Date() },
      transport: TransportKind.API,
      providerMessageId: providerId,
      detail: 'via test',
    });
    await waitFor('the early delivery applied', async () => (await h.message(m.id)).status === 'DELIVERED', 10_000);
    const later = await h.post(path, fake.signedPost(webhookId, [sendGridEvent('spamreport', providerId, m.to)]));
    expect(later.body).toEqual({ received: 1, stored: 1, duplicates: 0, unknown: 0 });
    expect((await h.message(m.id)).status).toBe('COMPLAINED');
  });

  it('looks for the message of an unmatched event less and less often (at most ten minutes apart), and not at all after two hours', async () => {
    const young = xMessageId();
    const old = xMessageId();
    await h.post(path, fake.signedPost(webhookId, [sendGridEvent('delivered', young, 'a@example.org'), sendGridEvent('delivered', old, 'b@example.org')]));
    await h.sql(`UPDATE webhook_events_unmatched SET received_at = now() - interval '1 hour', recheck_at = now() WHERE provider_message_id LIKE $1`, [`${young}%`]);
    await h.sql(`UPDATE webhook_events_unmatched SET received_at = now() - interval '3 hours', recheck_at = now() WHERE provider_message_id LIKE $1`, [`${old}%`]);
    const recheck = async (id: string) =>
      (await h.sql<{ in_secs: number | null }>(`SELECT extract(epoch FROM recheck_at - now())::float AS in_secs FROM webhook_events_unmatched WHERE provider_message_id LIKE $1`, [`${id}%`]))[0].in_secs;
    // An hour old: next look in ten minutes (the longest gap; as long again as its age otherwise).
    // Three hours old: never again (kept for audit).
    await waitFor('the young event claimed', async () => ((await recheck(young)) ?? 0) > 500, 5_000);
    expect(await recheck(young)).toBeLessThanOrEqual(600);
    await waitFor('the old event retired', async () => (await recheck(old)) === null, 5_000);
    expect(await unmatched(old)).toBe('1');
  });

  it('deletes unmatched events once older than the retention (30 days), oldest first, and none still due for a look', async () => {
    const [expired, recent, expiredButDue] = [xMessageId(), xMessageId(), xMessageId()];
    await h.post(path, fake.signedPost(webhookId, [expired, recent, expiredButDue].map((id, i) => sendGridEvent('delivered', id, `r${i}@example.org`))));
    const age = (id: string, days: number, due: boolean) =>
      h.sql(`UPDATE webhook_events_unmatched SET received_at = now() - make_interval(days => $2), recheck_at = CASE WHEN $3 THEN now() + interval '1 hour' END WHERE provider_message_id LIKE $1`, [
        `${id}%`,
        days,
        due,
      ]);
    await age(expired, 31, false);
    await age(recent, 29, false);
    await age(expiredButDue, 31, true);
    // More than one batch (5,000) past the retention, behind the one still due (the oldest).
    await h.sql(`UPDATE webhook_events_unmatched SET id = -id WHERE provider_message_id LIKE $1`, [`${expiredButDue}%`]);
    await h.sql(
      `INSERT INTO webhook_events_unmatched (server_id, provider, kind, provider_message_id, recipient, external_id, occurred_at, received_at)
       SELECT server_id, provider, kind, provider_message_id, recipient, external_id || ':' || n, occurred_at, received_at
         FROM webhook_events_unmatched, generate_series(1, 5100) AS n WHERE provider_message_id LIKE $1`,
      [`${expired}%`],
    );
    const purge = h.t.app.get(EarlyWebhookEvents);
    expect(await purge.purgeOld()).toBe(5_101);
    expect([await unmatched(expired), await unmatched(recent), await unmatched(expiredButDue)]).toEqual(['0', '1', '1']);
  });

  it('keeps events for mail it never sent unmatched, for audit', async () => {
    const foreign = xMessageId();
    expect((await h.post(path, fake.signedPost(webhookId, [sendGridEvent('delivered', foreign, 'someone@example.org')]))).body).toMatchObject({ unknown: 1 });
    // A later early event is adopted: the pass that adopts it has looked at the foreign one too.
    const providerId = xMessageId();
    const m = await sending(providerId);
    await h.post(path, fake.signedPost(webhookId, [sendGridEvent('delivered', providerId, m.to)]));
    await recordSent(m.id, providerId);
    await waitFor('the early delivery applied', async () => (await h.message(m.id)).status === 'DELIVERED', 10_000);
    expect(await unmatched(foreign)).toBe('1');
  });
});
