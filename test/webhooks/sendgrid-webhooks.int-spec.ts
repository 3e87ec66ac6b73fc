import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { Client } from 'pg';
import { TEST_REDIS_URL } from '../utils/test-db';
import { SendGridFake } from '../fakes/sendgrid-fake';
import { sendGridEvent, sendGridServer, xMessageId } from './helpers';
import { lockWaiter, WebhookHarness, type WebhookPost } from './webhook-harness';

describe('SendGrid event webhook (ECDSA-signed batches)', () => {
  const fake = new SendGridFake();
  let h: WebhookHarness;
  let accountId: string;
  let serverId: string;
  let webhookId: string;
  let path: string;

  beforeAll(async () => {
    await fake.start();
    h = await WebhookHarness.start({ SENDGRID_API_URL: fake.url });
    let webhookStatus: string;
    ({ accountId, serverId, webhookStatus, webhookId, path } = await sendGridServer(h, fake));
    expect(webhookStatus).toBe('REGISTERED');
  });
  afterAll(async () => {
    await h.close();
    await fake.stop();
  });

  const signed = (events: unknown[] | Buffer, timestamp?: string): WebhookPost => fake.signedPost(webhookId, events, timestamp);

  it('marks a message DELIVERED, matching sg_message_id to the stored X-Message-Id, and stores a repeated event once', async () => {
    const id = xMessageId();
    const m = await h.sentMessage(accountId, serverId, id);
    const delivered = sendGridEvent('delivered', id, m.to, { response: '250 OK' });

    const first = await h.post(path, signed([delivered]));
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ received: 1, stored: 1, duplicates: 0, unknown: 0 });
    expect(await h.message(m.id)).toMatchObject({ status: 'DELIVERED', events: [{ type: 'DELIVERED', detail: '250 OK' }] });

    const again = await h.post(path, signed([delivered]));
    expect(again.body).toEqual({ received: 1, stored: 0, duplicates: 1, unknown: 0 });
    expect(await h.eventTypes(m.id)).toEqual(['DELIVERED']);
  });

  it('picks, of two messages sharing one provider id, the one whose address is the event\'s exactly (not one containing it)', async () => {
    const shared = xMessageId();
    const tail = randomUUID().slice(8);
    // Rows are read in id order: the address that merely contains the event's comes first.
    const jane = await h.sentMessage(accountId, serverId, shared, { to: 'Jane <jane@pick.example>', id: `00000000${tail}` });
    const ane = await h.sentMessage(accountId, serverId, shared, { to: 'ane@pick.example', id: `ffffffff${tail}` });
    expect((await h.post(path, signed([sendGridEvent('delivered', shared, 'ane@pick.example')]))).body).toMatchObject({ stored: 1 });
    expect((await h.message(ane.id)).status).toBe('DELIVERED');
    expect((await h.message(jane.id)).status).toBe('SENT');
  });

  it('a post replayed after its account removed a suppression it made does not put the address back', async () => {
    const m = await h.sentMessage(accountId, serverId, xMessageId());
    const post = signed([sendGridEvent('bounce', m.providerMessageId, m.to, { type: 'bounce', reason: '550 5.1.1 no such user' })]);
    expect((await h.post(path, post)).body).toMatchObject({ stored: 1 });
    expect((await h.suppressions(accountId)).map((s) => s.email)).toContain(m.to);
    await h.t.gqlOk(`mutation($a: ID!, $e: String!) { removeSuppression(accountId: $a, email: $e) }`, { a: accountId, e: m.to });
    // The same signed post again (within the accepted window): already applied, so nothing changes.
    expect((await h.post(path, post)).body).toEqual({ received: 1, stored: 0, duplicates: 1, unknown: 0 });
    expect((await h.suppressions(accountId)).map((s) => s.email)).not.toContain(m.to);
  });

  it('stores an event whose fields carry NUL characters (PostgreSQL cannot store one) instead of failing the batch on every retry', async () => {
    const m = await h.sentMessage(accountId, serverId, xMessageId());
    const bounce = sendGridEvent('bounce', m.providerMessageId, m.to, { type: 'bounce', reason: '550 5.1.1 no such\u0000user', sg_event_id: `ev\u0000${randomUUID()}` });
    const res = await h.post(path, signed([bounce]));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ stored: 1 });
    expect(await h.message(m.id)).toMatchObject({ status: 'BOUNCED', events: [{ type: 'HARD_BOUNCE', detail: expect.stringContaining('no such\uFFFDuser') }] });
  });

  it('applies a mixed batch: hard and soft bounce → BOUNCED, spam report → COMPLAINED, dropped → FAILED, deferred only recorded; hard bounce and complaint suppressed; unknown ids are counted', async () => {
    const bounced = await h.sentMessage(accountId, serverId, xMessageId());
    const complained = await h.sentMessage(accountId, serverId, xMessageId(), { status: 'DELIVERED' });
    const soft = await h.sentMessage(accountId, serverId, xMessageId());
    const dropped = await h.sentMessage(accountId, serverId, xMessageId());
    const deferred = await h.sentMessage(accountId, serverId, xMessageId());
    const res = await h.post(
      path,
      signed([
        sendGridEvent('bounce', bounced.providerMessageId, bounced.to, { type: 'bounce', reason: '550 5.1.1 no such user' }),
        sendGridEvent('spamreport', complained.providerMessageId, complained.to),
        sendGridEvent('bounce', soft.providerMessageId, soft.to, { type: 'blocked', reason: '421 4.7.0 try again later' }),
        sendGridEvent('dropped', dropped.providerMessageId, dropped.to, { reason: 'Bounced Address' }),
        sendGridEvent('deferred', deferred.providerMessageId, deferred.to, { response: '450 mailbox busy', attempt: '1' }),
        sendGridEvent('delivered', xMessageId(), 'someone@example.org'),
        sendGridEvent('open', xMessageId(), 'someone@example.org'),
      ]),
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: 6, stored: 5, duplicates: 0, unknown: 1 });
    expect(await h.message(bounced.id)).toMatchObject({ status: 'BOUNCED', error: { code: 'RECIPIENT_REJECTED', smtpResponseCode: 550 } });
    expect((await h.message(bounced.id)).error?.message).toContain('550 5.1.1 no such user');
    expect((await h.message(complained.id)).status).toBe('COMPLAINED');
    expect(await h.message(soft.id)).toMatchObject({ status: 'BOUNCED', error: { code: 'RECIPIENT_REJECTED', smtpResponseCode: 421 }, events: [{ type: 'SOFT_BOUNCE' }] });
    expect(await h.message(dropped.id)).toMatchObject({ status: 'FAILED', error: { code: 'MESSAGE_REJECTED', smtpResponseCode: null }, events: [{ type: 'REJECTED' }] });
    expect((await h.message(dropped.id)).error?.message).toContain('Bounced Address');
    expect(await h.message(deferred.id)).toMatchObject({ status: 'SENT', error: null, events: [{ type: 'DEFERRED' }] });
    const suppressed = await h.suppressions(accountId);
    expect(suppressed).toEqual(
      expect.arrayContaining([
        { email: bounced.to, reason: 'HARD_BOUNCE' },
        { email: complained.to, reason: 'COMPLAINT' },
      ]),
    );
    for (const other of [soft, dropped, deferred]) expect(suppressed.map((s) => s.email)).not.toContain(other.to);
  });

  it('never moves a bounced message back to DELIVERED', async () => {
    const id = xMessageId();
    const m = await h.sentMessage(accountId, serverId, id);
    expect((await h.post(path, signed([sendGridEvent('bounce', id, m.to, { type: 'bounce' })]))).status).toBe(200);
    expect((await h.post(path, signed([sendGridEvent('delivered', id, m.to)]))).status).toBe(200);
    expect(await h.message(m.id)).toMatchObject({ status: 'BOUNCED' });
    expect(await h.eventTypes(m.id)).toEqual(['HARD_BOUNCE', 'DELIVERED']);
  });

  it('a delivery posted while a hard bounce of the same message is being applied waits for it, and does not override it', async () => {
    const id = xMessageId();
    const m = await h.sentMessage(accountId, serverId, id);
    expect((await h.post(path, signed([sendGridEvent('bounce', id, m.to, { type: 'blocked', reason: '421 4.7.0 try again later' })]))).status).toBe(200);
    // Another post's hard bounce, applied in a transaction not yet committed.
    const other = new Client({ connectionString: h.t.databaseUrl });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(`INSERT INTO message_events (message_id, type, occurred_at, detail, server_id, external_id) VALUES ($1, 'HARD_BOUNCE', now(), '550 5.1.1 no such user', $2, 'other-post')`, [m.id, serverId]);
      await other.query(`UPDATE messages SET error = '{"code":"RECIPIENT_REJECTED","message":"550 5.1.1 no such user"}'::jsonb WHERE id = $1`, [m.id]);
      // (A supertest request starts when something waits on it.)
      const delivered = Promise.resolve(h.post(path, signed([sendGridEvent('delivered', id, m.to)])));
      await lockWaiter(other, 'the delivery waiting for the message row');
      await other.query('COMMIT');
      expect((await delivered).status).toBe(200);
    } finally {
      await other.end();
    }
    expect(await h.message(m.id)).toMatchObject({ status: 'BOUNCED', error: { code: 'RECIPIENT_REJECTED' } });
  });

  it('refuses unsigned, tampered, wrongly keyed and stale posts with 401 and changes nothing', async () => {
    const id = xMessageId();
    const m = await h.sentMessage(accountId, serverId, id);
    const batch = [sendGridEvent('bounce', id, m.to, { type: 'bounce' })];
    const good = signed(batch);
    const before = await h.countEvents();

    const unsigned = { rawBody: good.rawBody, headers: { 'content-type': 'application/json' } };
    const tampered = { ...good, rawBody: Buffer.from(good.rawBody.toString().replace(m.to, 'other@example.org')) };
    const wrongSignature = { ...good, headers: { ...good.headers, 'x-twilio-email-event-webhook-signature': signed([{ other: true }]).headers['x-twilio-email-event-webhook-signature'] } };
    // SendGrid retries for up to 24 hours (see the next test): older than that is refused.
    const stale = signed(batch, String(Math.floor(Date.now() / 1000) - 25 * 3600));
    const otherTimestamp = { ...good, headers: { ...good.headers, 'x-twilio-email-event-webhook-timestamp': String(Number(good.headers['x-twilio-email-event-webhook-timestamp']) - 1) } };
    for (const post of [unsigned, tampered, wrongSignature, stale, otherTimestamp]) {
      const res = await h.post(path, post);
      expect(res.status).toBe(401);
      expect(JSON.stringify(res.body)).not.toMatch(/stack|SELECT|INSERT|publicKey/i);
    }
    expect(await h.countEvents()).toBe(before);
    expect((await h.message(m.id)).status).toBe('SENT');
    expect((await h.suppressions(accountId)).map((s) => s.email)).not.toContain(m.to);
  });

  it('takes the new signing key after signing was turned off and on at SendGrid, asking SendGrid at most once per 10 minutes per server', async () => {
    // A server of its own: a refused post elsewhere in this file may have asked SendGrid already.
    const other = await sendGridServer(h, fake);
    const asks = (): number => fake.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/signed/${other.webhookId}`)).length;
    const delivered = async (): Promise<WebhookPost> => {
      const id = xMessageId();
      const m = await h.sentMessage(other.accountId, other.serverId, id);
      return fake.signedPost(other.webhookId, [sendGridEvent('delivered', id, m.to)]);
    };

    // Refused for what no other key would fix (no signature headers): SendGrid is not asked.
    const unsigned = await delivered();
    expect((await h.post(other.path, { rawBody: unsigned.rawBody, headers: { 'content-type': 'application/json' } })).status).toBe(401);
    expect(asks()).toBe(0);

    fake.resign(other.webhookId);
    const first = await h.post(other.path, await delivered());
    expect({ status: first.status, body: first.body, asks: asks() }).toEqual({ status: 200, body: { received: 1, stored: 1, duplicates: 0, unknown: 0 }, asks: 1 });
    // The new key is stored: the next post verifies without asking.
    expect((await h.post(other.path, await delivered())).status).toBe(200);
    expect(asks()).toBe(1);

    // Anyone can post a bad signature: SendGrid is not asked again within the 10 minutes.
    fake.resign(other.webhookId);
    expect((await h.post(other.path, await delivered())).status).toBe(401);
    expect(asks()).toBe(1);
  });

  it('refuses with 401 while SendGrid cannot be asked for the key, and holds the next ask back a minute, not ten', async () => {
    const third = await sendGridServer(h, fake);
    const id = xMessageId();
    const m = await h.sentMessage(third.accountId, third.serverId, id);
    fake.resign(third.webhookId);
    const post = fake.signedPost(third.webhookId, [sendGridEvent('delivered', id, m.to)]);
    fake.fail({ kind: 'status', status: 503, body: { errors: [{ message: 'Service unavailable' }] } });
    try {
      expect((await h.post(third.path, post)).status).toBe(401);
    } finally {
      fake.fail({ kind: 'none' });
    }
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const hold = await redis.pttl(`${h.t.config.redis.prefix}:webhook-state-refresh:${third.serverId}`);
      expect(hold).toBeGreaterThan(0);
      expect(hold).toBeLessThanOrEqual(60_000);
    } finally {
      redis.disconnect();
    }
  });

  it('accepts a post first signed two hours ago (SendGrid retries a failed post for up to 24 hours, keeping its signature)', async () => {
    const id = xMessageId();
    const m = await h.sentMessage(accountId, serverId, id);
    const retried = signed([sendGridEvent('delivered', id, m.to)], String(Math.floor(Date.now() / 1000) - 2 * 3600));
    const res = await h.post(path, retried);
    expect({ status: res.status, body: res.body as unknown }).toEqual({ status: 200, body: { received: 1, stored: 1, duplicates: 0, unknown: 0 } });
    expect((await h.message(m.id)).status).toBe('DELIVERED');
    expect((await h.post(path, retried)).body).toEqual({ received: 1, stored: 0, duplicates: 1, unknown: 0 });
  });

  it('answers 400 to a signed body that is not a batch of events', async () => {
    expect((await h.post(path, signed(Buffer.from('{"event":"delivered"}')))).status).toBe(400);
    expect((await h.post(path, signed(Buffer.from('[{"event":')))).status).toBe(400);
  });
});
