import { Client } from 'pg';
import { randomUUID } from 'node:crypto';
import { MailgunFake } from '../fakes/mailgun-fake';
import { lockWaiter, WebhookHarness, type WebhookPost } from './webhook-harness';

describe('Mailgun webhooks (HMAC-signed, replay-protected)', () => {
  const fake = new MailgunFake({ apiKeys: ['key-test', 'key-other-account'] });
  let h: WebhookHarness;
  let accountId: string;
  let serverId: string;
  let path: string;

  beforeAll(async () => {
    await fake.start();
    h = await WebhookHarness.start({ MAILGUN_API_URL: fake.url });
    const created = await h.server({ provider: 'MAILGUN', credentials: { mailgun: { apiKey: 'key-test', domain: 'mg.example.com' } } });
    expect(created.server.webhook.status).toBe('REGISTERED');
    accountId = created.accountId;
    serverId = created.server.id;
    path = `/webhooks/mailgun/${serverId}`;
  });
  afterAll(async () => {
    await h.close();
    await fake.stop();
  });

  /** Mailgun's send answers "<id@domain>"; the adapter stores it without brackets. */
  const mailgunId = () => `${Date.now()}.${randomUUID().slice(0, 8)}@mg.example.com`;
  const eventData = (event: string, messageId: string, recipient: string, extra: Record<string, unknown> = {}) => ({
    id: randomUUID(),
    event,
    timestamp: Date.now() / 1000,
    recipient,
    message: { headers: { 'message-id': messageId } },
    ...extra,
  });
  const signed = (data: Record<string, unknown>, opts: { timestamp?: string; key?: string } = {}): WebhookPost => fake.signedPost(data, opts);

  it('marks a message DELIVERED (event message-id with or without angle brackets)', async () => {
    const m = await h.sentMessage(accountId, serverId, mailgunId());
    const res = await h.post(path, signed(eventData('delivered', `<${m.providerMessageId}>`, m.to)));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: 1, stored: 1, duplicates: 0, unknown: 0 });
    expect(await h.message(m.id)).toMatchObject({ status: 'DELIVERED', events: [{ type: 'DELIVERED' }] });
  });

  it('a permanent failure bounces and suppresses; a complaint marks COMPLAINED and suppresses; a temporary failure (Mailgun retries) is recorded as a deferral', async () => {
    const hard = await h.sentMessage(accountId, serverId, mailgunId());
    const complaint = await h.sentMessage(accountId, serverId, mailgunId());
    const soft = await h.sentMessage(accountId, serverId, mailgunId());
    const deliveryStatus = { code: 550, description: 'No such mailbox' };
    expect((await h.post(path, signed(eventData('failed', hard.providerMessageId, hard.to, { severity: 'permanent', 'delivery-status': deliveryStatus })))).status).toBe(200);
    expect((await h.post(path, signed(eventData('complained', complaint.providerMessageId, complaint.to)))).status).toBe(200);
    expect((await h.post(path, signed(eventData('failed', soft.providerMessageId, soft.to, { severity: 'temporary' })))).status).toBe(200);

    expect(await h.message(hard.id)).toMatchObject({
      status: 'BOUNCED',
      error: { code: 'RECIPIENT_REJECTED', smtpResponseCode: 550 },
      events: [{ type: 'HARD_BOUNCE', detail: '550 No such mailbox' }],
    });
    expect((await h.message(complaint.id)).status).toBe('COMPLAINED');
    expect(await h.message(soft.id)).toMatchObject({ status: 'SENT', error: null, events: [{ type: 'DEFERRED' }] });
    const suppressed = await h.suppressions(accountId);
    expect(suppressed).toEqual(expect.arrayContaining([{ email: hard.to, reason: 'HARD_BOUNCE' }, { email: complaint.to, reason: 'COMPLAINT' }]));
    expect(suppressed.map((s) => s.email)).not.toContain(soft.to);
  });

  it('reads the reason of a permanent failure: Mailgun giving up (old) is a soft bounce, its refusals (espblock, suppress-complaint) fail the message; only suppress-bounce suppresses', async () => {
    const cases = [
      { reason: 'old', status: 'BOUNCED', event: 'SOFT_BOUNCE', code: 'RECIPIENT_REJECTED' },
      { reason: 'espblock', status: 'FAILED', event: 'REJECTED', code: 'MESSAGE_REJECTED' },
      { reason: 'suppress-complaint', status: 'FAILED', event: 'REJECTED', code: 'MESSAGE_REJECTED' },
      { reason: 'suppress-bounce', status: 'BOUNCED', event: 'HARD_BOUNCE', code: 'RECIPIENT_REJECTED' },
    ];
    const sent = [];
    for (const c of cases) {
      const m = await h.sentMessage(accountId, serverId, mailgunId());
      sent.push(m);
      const res = await h.post(path, signed(eventData('failed', m.providerMessageId, m.to, { severity: 'permanent', reason: c.reason })));
      expect(res.status).toBe(200);
    }
    for (const [i, c] of cases.entries()) {
      const m = await h.message(sent[i].id);
      expect({ reason: c.reason, status: m.status, event: m.events.map((e) => e.type), code: m.error?.code }).toEqual({ ...c, event: [c.event] });
      expect(m.error?.message).toContain(c.reason);
    }
    const suppressed = (await h.suppressions(accountId)).map((s) => s.email);
    expect(suppressed).toContain(sent[3].to);
    for (const m of sent.slice(0, 3)) expect(suppressed).not.toContain(m.to);
  });

  it('checks posts with the signing key in the server credentials once an operator sets or rotates it there', async () => {
    const own = await h.server({ provider: 'MAILGUN', credentials: { mailgun: { apiKey: 'key-test', domain: 'mg.example.com' } } });
    const ownPath = `/webhooks/mailgun/${own.server.id}`;
    const m = await h.sentMessage(own.accountId, own.server.id, mailgunId());
    const input = { credentials: { mailgun: { apiKey: 'key-test', domain: 'mg.example.com', webhookSigningKey: 'rotated-signing-key' } } };
    await h.t.gqlOk(`mutation($id: ID!, $input: UpdateDeliveryServerInput!) { updateDeliveryServer(id: $id, input: $input) { id } }`, { id: own.server.id, input });

    expect((await h.post(ownPath, signed(eventData('delivered', m.providerMessageId, m.to)))).status).toBe(401);
    expect((await h.post(ownPath, signed(eventData('delivered', m.providerMessageId, m.to), { key: 'rotated-signing-key' }))).status).toBe(200);
    expect((await h.message(m.id)).status).toBe('DELIVERED');
  });

  it("an explicit null signing key clears the operator's key (posts are checked with the account's key again); left out keeps it", async () => {
    // A domain of its own: Mailgun keeps at most three URLs per event and domain.
    fake.domains.set('mg-null.example.com', 'active');
    const own = await h.server({ provider: 'MAILGUN', credentials: { mailgun: { apiKey: 'key-test', domain: 'mg-null.example.com', webhookSigningKey: 'operator-set-key' } } });
    const ownPath = `/webhooks/mailgun/${own.server.id}`;
    const UPDATE = `mutation($id: ID!, $input: UpdateDeliveryServerInput!) { updateDeliveryServer(id: $id, input: $input) { id } }`;
    await h.t.gqlOk(UPDATE, { id: own.server.id, input: { credentials: { mailgun: { apiKey: 'key-test', domain: 'mg-null.example.com' } } } });
    const m = await h.sentMessage(own.accountId, own.server.id, mailgunId());
    expect((await h.post(ownPath, signed(eventData('delivered', m.providerMessageId, m.to), { key: 'operator-set-key' }))).status).toBe(200);

    await h.t.gqlOk(UPDATE, { id: own.server.id, input: { credentials: { mailgun: { apiKey: 'key-test', domain: 'mg-null.example.com', webhookSigningKey: null } } } });
    const m2 = await h.sentMessage(own.accountId, own.server.id, mailgunId());
    expect((await h.post(ownPath, signed(eventData('delivered', m2.providerMessageId, m2.to), { key: 'operator-set-key' }))).status).toBe(401);
    expect((await h.post(ownPath, signed(eventData('delivered', m2.providerMessageId, m2.to)))).status).toBe(200);
  });

  it('asks for the signing key again when the API key changes (the key belongs to the account); null reads the new account key', async () => {
    const own = await h.server({ provider: 'MAILGUN', credentials: { mailgun: { apiKey: 'key-test', domain: 'mg.example.com', webhookSigningKey: 'operator-set-key' } } });
    const ownPath = `/webhooks/mailgun/${own.server.id}`;
    const m = await h.sentMessage(own.accountId, own.server.id, mailgunId());
    const UPDATE = `mutation($id: ID!, $input: UpdateDeliveryServerInput!) { updateDeliveryServer(id: $id, input: $input) { id } }`;
    const leftOut = await h.t.gql(UPDATE, { id: own.server.id, input: { credentials: { mailgun: { apiKey: 'key-other-account', domain: 'mg.example.com' } } } });
    expect(leftOut.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: ['credentials.mailgun.webhookSigningKey'] });
    expect((await h.post(ownPath, signed(eventData('delivered', m.providerMessageId, m.to), { key: 'operator-set-key' }))).status).toBe(200);

    const m2 = await h.sentMessage(own.accountId, own.server.id, mailgunId());
    const input = { credentials: { mailgun: { apiKey: 'key-other-account', domain: 'mg.example.com', webhookSigningKey: null } } };
    await h.t.gqlOk(UPDATE, { id: own.server.id, input });

    expect((await h.post(ownPath, signed(eventData('delivered', m2.providerMessageId, m2.to), { key: 'operator-set-key' }))).status).toBe(401);
    expect((await h.post(ownPath, signed(eventData('delivered', m2.providerMessageId, m2.to)))).status).toBe(200);
    expect((await h.message(m2.id)).status).toBe('DELIVERED');
  });

  it('applies a post once: the same signed post again (a retry whose 200 was lost, or a replay with other event data) is answered 200 and changes nothing; the event re-sent with a new token is stored once', async () => {
    const m = await h.sentMessage(accountId, serverId, mailgunId());
    const data = eventData('delivered', m.providerMessageId, m.to);
    const post = signed(data);
    expect((await h.post(path, post)).status).toBe(200);
    const before = await h.countEvents();
    const again = await h.post(path, post);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ received: 1, stored: 0, duplicates: 1, unknown: 0 });
    // The HMAC does not cover event-data: the same signature block with another event is the same post.
    const other = await h.sentMessage(accountId, serverId, mailgunId());
    const body = JSON.parse(post.rawBody.toString()) as Record<string, unknown>;
    const forged = { ...post, rawBody: Buffer.from(JSON.stringify({ ...body, 'event-data': eventData('complained', other.providerMessageId, other.to) })) };
    expect((await h.post(path, forged)).body).toMatchObject({ stored: 0, duplicates: 1 });
    expect(await h.countEvents()).toBe(before);
    expect((await h.message(other.id)).status).toBe('SENT');
    expect((await h.suppressions(accountId)).map((s) => s.email)).not.toContain(other.to);

    const resent = await h.post(path, signed(data));
    expect(resent.status).toBe(200);
    expect(resent.body).toEqual({ received: 1, stored: 0, duplicates: 1, unknown: 0 });
    expect(await h.eventTypes(m.id)).toEqual(['DELIVERED']);
  });

  it('answers 503 to the same post arriving while the first is still being applied (it may yet fail), and 200 with nothing stored once it has been', async () => {
    const m = await h.sentMessage(accountId, serverId, mailgunId());
    const post = signed(eventData('delivered', m.providerMessageId, m.to));
    // The first post waits for the message row, held by another transaction.
    const other = new Client({ connectionString: h.t.databaseUrl });
    await other.connect();
    let first: Promise<{ status: number }>;
    try {
      await other.query('BEGIN');
      await other.query('SELECT id FROM messages WHERE id = $1 FOR UPDATE', [m.id]);
      // (A supertest request starts when something waits on it.)
      first = Promise.resolve(h.post(path, post));
      await lockWaiter(other, 'the first post waiting for the message row');
      expect((await h.post(path, post)).status).toBe(503);
      await other.query('COMMIT');
    } finally {
      await other.end();
    }
    expect((await first).status).toBe(200);
    expect((await h.message(m.id)).status).toBe('DELIVERED');
    const again = await h.post(path, post);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ received: 1, stored: 0, duplicates: 1, unknown: 0 });
  });

  it("accepts Mailgun's retry of a post first signed two hours ago (retries run for about eight hours)", async () => {
    const m = await h.sentMessage(accountId, serverId, mailgunId());
    const retried = await h.post(path, signed(eventData('delivered', m.providerMessageId, m.to), { timestamp: String(Math.floor(Date.now() / 1000) - 2 * 3600) }));
    expect(retried.status).toBe(200);
    expect((await h.message(m.id)).status).toBe('DELIVERED');
  });

  it('refuses a wrong key, a stale timestamp, a tampered signature and a missing signature with 401, changing nothing', async () => {
    const m = await h.sentMessage(accountId, serverId, mailgunId());
    const data = eventData('failed', m.providerMessageId, m.to, { severity: 'permanent' });
    const before = await h.countEvents();
    const good = signed(data);
    const body = JSON.parse(good.rawBody.toString()) as { signature: Record<string, string>; 'event-data': unknown };
    const posts: WebhookPost[] = [
      signed(data, { key: 'not-the-signing-key' }),
      signed(data, { timestamp: String(Math.floor(Date.now() / 1000) - 10 * 3600) }),
      signed(data, { timestamp: String(Math.floor(Date.now() / 1000) + 3600) }),
      // Signed over the same string as a valid timestamp and token, split differently.
      signed(data, { timestamp: `${Math.floor(Date.now() / 1000)}e0` }),
      { ...good, rawBody: Buffer.from(JSON.stringify({ ...body, signature: { ...body.signature, signature: 'f'.repeat(64) } })) },
      { ...good, rawBody: Buffer.from(JSON.stringify({ 'event-data': data })) },
    ];
    for (const post of posts) expect((await h.post(path, post)).status).toBe(401);
    expect(await h.countEvents()).toBe(before);
    expect((await h.message(m.id)).status).toBe('SENT');
    expect((await h.suppressions(accountId)).map((s) => s.email)).not.toContain(m.to);
  });

  // PROVIDERS.md §3.5: Mailgun retries anything but 200 and 406 for about eight hours.
  it('answers 406 (reject, no retry) to a signed post without event data, to a body that is not JSON, and to a post for an unknown server', async () => {
    const before = await h.countEvents();
    const good = signed(eventData('delivered', mailgunId(), 'a@example.org'));
    const body = JSON.parse(good.rawBody.toString()) as { signature: unknown };
    expect((await h.post(path, { ...good, rawBody: Buffer.from(JSON.stringify({ signature: body.signature })) })).status).toBe(406);
    expect((await h.post(path, { ...good, rawBody: good.rawBody.subarray(0, 40) })).status).toBe(406);
    expect((await h.post(`/webhooks/mailgun/${randomUUID()}`, good)).status).toBe(406);
    expect(await h.countEvents()).toBe(before);
  });

  it('accepts events for messages it does not know, counting them', async () => {
    const res = await h.post(path, signed(eventData('delivered', mailgunId(), 'stranger@example.org')));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: 1, stored: 0, duplicates: 0, unknown: 1 });
  });
});
