// Webhook ingestion: SendGrid event webhook batches of 1,000 ECDSA-signed events posted to the
// listening app by a few concurrent posters, every event matching a stored SENT message (mostly
// delivered, some hard bounces and spam reports, which also suppress the address). Rate is events
// stored per second, checked against message_events at the end; also this process's CPU per
// batch (the app, plus the posters' signing, which is small). BENCH_WEBHOOK_BATCHES (default 100).
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { SendGridFake } from '../test/fakes/sendgrid-fake';
import { newAgency } from '../test/factories/accounts';
import { createServer } from '../test/factories/delivery-servers';
import { createTestApp } from '../test/utils/create-test-app';
import globalSetup from '../test/utils/global-setup';
import globalTeardown from '../test/utils/global-teardown';
import { countRows, cpuMsPer, round, secondsSince, withDb } from './bench-utils';

const BATCH = 1000;
const BATCHES = Number(process.env.BENCH_WEBHOOK_BATCHES ?? 100);
const POSTERS = 4;

/** Message i's event: every 50th a hard bounce, every 200th a spam report, the rest delivered. */
function eventOf(i: number): Record<string, unknown> {
  const common = { email: `reader${i}@list${i % 97}.example.com`, timestamp: Math.floor(Date.now() / 1000), sg_event_id: randomUUID(), sg_message_id: `benchsg${i}.filterdrecv-5645d9c87f-6wq9k-1-5F2C1F0A-2.0` };
  if (i % 50 === 0) return { ...common, event: 'bounce', type: 'bounce', reason: '550 5.1.1 no such user' };
  if (i % 200 === 1) return { ...common, event: 'spamreport' };
  return { ...common, event: 'delivered', response: '250 2.0.0 OK' };
}

export async function run(): Promise<Record<string, unknown>[]> {
  await globalSetup();
  const fake = new SendGridFake();
  await fake.start();
  const t = await createTestApp({ ROLE: 'api', SENDGRID_API_URL: fake.url, LOG_LEVEL: 'silent' });
  try {
    await t.app.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    const agency = await newAgency(t, { name: 'Webhook bench' });
    const server = await createServer(t, { accountId: agency.id, name: 'SendGrid', provider: 'SENDGRID', credentials: { sendgrid: { apiKey: 'SG.test-key' } } });
    const hook = [...fake.webhooks.values()].find((w) => w.url === server.webhook.url);
    if (!hook) throw new Error(`no signed webhook registered at the fake (${server.webhook.status}: ${server.webhook.error})`);

    const events = BATCH * BATCHES;
    await withDb(t.databaseUrl, async (db) => {
      await db.query(
        `INSERT INTO messages (id, account_id, source, from_address, to_address, subject, text, status, server_id, transport, provider_message_id, attempts, sent_at)
         SELECT gen_random_uuid(), $1, 'CAMPAIGN', 'news@bench.example.com', 'reader' || i || '@list' || (i % 97) || '.example.com', 'Bench', 'Hello',
                'SENT', $2, 'API', 'benchsg' || i, 1, now()
         FROM generate_series(0, $3::int - 1) AS i`,
        [agency.id, server.id, events],
      );
      await db.query('ANALYZE messages');
    });
    // Bodies built up front; each post is signed as it goes out (the signature carries a timestamp).
    const bodies = Array.from({ length: BATCHES }, (_, b) => Buffer.from(JSON.stringify(Array.from({ length: BATCH }, (_, k) => eventOf(b * BATCH + k)))));

    let next = 0;
    const poster = async (): Promise<void> => {
      for (let b = next++; b < BATCHES; b = next++) {
        const post = fake.signedPost(hook.id, bodies[b]);
        const res = await fetch(`${base}/webhooks/sendgrid/${server.id}`, { method: 'POST', headers: post.headers, body: post.rawBody });
        const answer = (await res.json()) as { stored?: number };
        if (res.status !== 200 || answer.stored !== BATCH) throw new Error(`batch ${b}: HTTP ${res.status} ${JSON.stringify(answer)}`);
      }
    };
    const cpuBefore = process.cpuUsage();
    const started = process.hrtime.bigint();
    await Promise.all(Array.from({ length: POSTERS }, poster));
    const seconds = secondsSince(started);
    const cpu = process.cpuUsage(cpuBefore);

    const stored = await withDb(t.databaseUrl, (db) => countRows(db, 'SELECT 1 FROM message_events'));
    if (stored !== events) throw new Error(`${stored} events stored, expected ${events}`);
    return [{ bench: 'webhooks', provider: 'sendgrid', batch: BATCH, batches: BATCHES, events, posters: POSTERS, seconds: round(seconds), eventsPerSecond: Math.round(events / seconds), appCpuMsPer1000Events: cpuMsPer(cpu, BATCHES) }];
  } finally {
    await t.close();
    await fake.stop();
    await globalTeardown();
  }
}
