import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Endpoint, startSignedEndpoints, type SignedEndpoints } from './signed-endpoints';
import { seededBytes, type WebhookHarness, type WebhookPost } from './webhook-harness';

const MB = 1024 * 1024;

describe('POST /webhooks/{provider}/{serverId}: routing, size cap, Elastic Email, and fuzz', () => {
  let signed: SignedEndpoints;
  let h: WebhookHarness;
  let accountId: string;
  let endpoints: Record<string, Endpoint>;

  beforeAll(async () => {
    signed = await startSignedEndpoints();
    ({ h, accountId, endpoints } = signed);
  });
  afterAll(() => signed?.stop());

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
      `/webhooks/ses/${endpoints.mailgun.serverId}`,
      `/webhooks/sendgrid`,
    ]) {
      const res = await h.post(path, post);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
    }
    expect((await h.t.http().get(`/webhooks/sendgrid/${sg.serverId}`)).status).toBe(404);
  });

  it('answers Mailgun 406 (reject, no retry) for an unknown (e.g. deleted) or other-provider server: any other status it retries for hours', async () => {
    const mg = endpoints.mailgun.valid();
    for (const path of [`/webhooks/mailgun/${randomUUID()}`, `/webhooks/mailgun/not-a-uuid`, `/webhooks/mailgun/${endpoints.sendgrid.serverId}`]) {
      const res = await h.post(path, mg);
      expect({ path, status: res.status }).toEqual({ path, status: 406 });
    }
  });

  it('answers 413 to a body over 1 MB, whatever its type, and stores nothing', async () => {
    const before = await h.countEvents();
    const big = (fill: string) => Buffer.from(JSON.stringify([{ pad: fill.repeat(MB) }]));
    const ses = await h.post(endpoints.ses.path, { rawBody: big('a'), headers: { 'content-type': 'text/plain; charset=UTF-8' } });
    expect(ses.status).toBe(413);
    const sg = await h.post(endpoints.sendgrid.path, { ...endpoints.sendgrid.valid(), rawBody: big('b') });
    expect(sg.status).toBe(413);
    const sp = await h.post(endpoints.sparkpost.path, { ...endpoints.sparkpost.valid(), rawBody: Buffer.from(`[${' '.repeat(MB)}]`) });
    expect(sp.status).toBe(413);
    expect(JSON.stringify(ses.body)).not.toMatch(/stack|at /);
    expect(await h.countEvents()).toBe(before);
  });

  /** A POST with Transfer-Encoding: chunked (supertest always declares the length), in 64 KB chunks. */
  const postChunked = (path: string, contentType: string, body: Buffer): Promise<{ status: number; body: unknown }> =>
    new Promise((resolve, reject) => {
      const { port } = h.t.app.getHttpServer().address() as AddressInfo;
      const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': contentType, 'transfer-encoding': 'chunked' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) as unknown }));
        res.on('error', reject);
      });
      req.on('error', reject);
      for (let at = 0; at < body.length; at += 64 * 1024) req.write(body.subarray(at, at + 64 * 1024));
      req.end();
    });

  it('refuses a 3 MB JSON or form post with 413 before any parser reads it, declared or chunked; GraphQL keeps its 4 MB limit', async () => {
    const before = await h.countEvents();
    const tooLarge = { statusCode: 413, message: 'Webhook body too large (limit 1 MB)' };
    // Never valid JSON: had the app's 4 MB JSON parser read it first, the answer would be its 400.
    const notJson = Buffer.concat([Buffer.from('[{"pad":"'), Buffer.alloc(3 * MB, 'x')]);
    for (const e of [endpoints.sendgrid, endpoints.sparkpost, endpoints.mailgun]) {
      const res = await h.post(e.path, { ...e.valid(), rawBody: notJson, headers: { ...e.valid().headers, 'content-type': 'application/json' } });
      // Mailgun is told 406, the one refusal it does not retry for hours.
      const status = e.slug === 'mailgun' ? 406 : 413;
      expect({ slug: e.slug, status: res.status, body: res.body as unknown }).toEqual({ slug: e.slug, status, body: { ...tooLarge, statusCode: status } });
    }
    const mailgunChunked = await postChunked(endpoints.mailgun.path, 'application/json', notJson);
    expect(mailgunChunked).toEqual({ status: 406, body: { ...tooLarge, statusCode: 406 } });
    const form = await h.post(endpoints.elasticemail.path, { rawBody: Buffer.alloc(3 * MB, 'a'), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect({ status: form.status, body: form.body as unknown }).toEqual({ status: 413, body: tooLarge });

    // No Content-Length: the cap counts the bytes as they come.
    const chunked = await postChunked(endpoints.sendgrid.path, 'application/json', notJson);
    expect(chunked).toEqual({ status: 413, body: tooLarge });
    expect(await h.countEvents()).toBe(before);

    const graphql = await h.t.http().post('/graphql').set('authorization', `Bearer ${h.t.adminToken}`).send({ query: '{ viewer { role } }', variables: { pad: 'x'.repeat(3 * MB) } });
    expect(graphql.status).toBe(200);
    expect(graphql.body).toEqual({ data: { viewer: { role: 'ADMIN' } } });
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

  it("Elastic Email: the dashboard's URL check (GET or post with only the secret) is answered 200 and stores nothing; a JSON body that does not parse is 400", async () => {
    const e = endpoints.elasticemail;
    const before = await h.countEvents();
    const nothing = { received: 0, stored: 0, duplicates: 0, unknown: 0 };
    const get = await h.t.http().get(e.path);
    expect({ status: get.status, body: get.body as unknown }).toEqual({ status: 200, body: nothing });
    const checks: WebhookPost[] = [
      { rawBody: Buffer.alloc(0), headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      { rawBody: Buffer.from('{}'), headers: { 'content-type': 'application/json' } },
    ];
    for (const post of checks) {
      const res = await h.post(e.path, post);
      expect({ sent: post.rawBody.toString(), status: res.status, body: res.body as unknown }).toEqual({ sent: post.rawBody.toString(), status: 200, body: nothing });
    }
    expect((await h.t.http().get(`/webhooks/elasticemail/${e.serverId}?secret=wrong`)).status).toBe(401);
    const broken = await h.post(e.path, { rawBody: Buffer.from('{"status":"Sent",'), headers: { 'content-type': 'application/json' } });
    expect(broken.status).toBe(400);
    expect(await h.countEvents()).toBe(before);
  });

  it('fuzz: random and truncated bodies answer only 400/401 (Mailgun: 406/401; Elastic Email: also 200 for a body naming no event), never 500, and store nothing', async () => {
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
    // Mailgun retries anything but 200 and 406 for hours; Elastic Email's fields may come as a form, so random bytes read as one name no event.
    const allowed: Record<string, number[]> = { mailgun: [406, 401], elasticemail: [200, 400, 401] };
    for (const [slug, statuses] of seen) {
      expect({ slug, unexpected: statuses.filter((s) => !(allowed[slug] ?? [400, 401]).includes(s)) }).toEqual({ slug, unexpected: [] });
    }
    for (let i = 0; i < 10; i++) {
      const res = await h.post(`/webhooks/${random(6).toString('hex')}/${randomUUID()}`, { rawBody: random(50), headers: { 'content-type': 'application/json' } });
      expect([400, 404]).toContain(res.status);
    }
    expect(await h.countEvents()).toBe(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
