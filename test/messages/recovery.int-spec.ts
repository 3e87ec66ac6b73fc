import Redis from 'ioredis';
import { Client } from 'pg';
import { DispatchQueue, jobIdOf } from '../../src/modules/messages/dispatch-queue';
import { Sweeper } from '../../src/modules/messages/sweeper';
import { newAgency } from '../factories/accounts';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../factories/delivery-servers';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { SmtpSink } from '../utils/smtp-sink';
import { TEST_REDIS_URL } from '../utils/test-db';
import { waitFor } from '../utils/wait-for';

const SEND = `mutation($input: SendEmailInput!) { sendEmail(input: $input) { id } }`;

describe('nothing accepted is lost', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let redis: Redis;
  beforeAll(async () => {
    sink = new SmtpSink({ users: [SINK_USER] });
    await sink.start();
    redis = new Redis(TEST_REDIS_URL);
    // Two jobs at a time: most messages are still waiting in the queue when it is lost.
    t = await createTestApp({ SWEEP_INTERVAL_MS: '300', RETRY_BASE_MS: '100', WORKER_CONCURRENCY: '2' });
  });
  afterAll(async () => {
    await t.close();
    await sink.stop();
    redis.disconnect();
  });

  const statuses = async (): Promise<Record<string, number>> => {
    const client = new Client({ connectionString: t.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM messages GROUP BY status');
      return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
    } finally {
      await client.end();
    }
  };
  /** Everything this app keeps in Redis, as if Redis had restarted empty (only this test's keys: other runs share the server). */
  const loseRedis = async (): Promise<number> => {
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${t.config.redis.prefix}*`, 'COUNT', 1000);
      if (keys.length) deleted += await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    return deleted;
  };

  it('re-queues every pending message after Redis loses the queue, and sends each once', async () => {
    const agency = await newAgency(t);
    // One send every half second at most, and all 16 accepted at once: the loss comes long before
    // the worker could have sent 13 of them (over six seconds).
    const server = await createServer(t, smtpServerInput(agency.id, sink.port, { pauseMs: 500 }));
    await verifyAndActivate(t, server.id);
    const recipients = Array.from({ length: 16 }, (_v, i) => `lost-${i}@example.com`);
    await Promise.all(recipients.map((to) => t.gqlOk(SEND, { input: { accountId: agency.id, from: 'news@brand.example', to, subject: 'survives', text: 'x' } })));
    // Lose Redis while most messages are still waiting in the queue: only the sweeper can bring them back.
    expect(await loseRedis()).toBeGreaterThan(0);
    const atLoss = await statuses();
    expect((atLoss.QUEUED ?? 0) + (atLoss.DEFERRED ?? 0)).toBeGreaterThanOrEqual(3);
    await waitFor('every message SENT', async () => ((await statuses()).SENT ?? 0) === 16, 30_000);
    const received = sink.messages.filter((m) => m.subject === 'survives').map((m) => m.envelope.to[0]);
    expect(new Set(received)).toEqual(new Set(recipients));
    // At most the few in flight at the moment of the loss could be sent twice.
    expect(received.length - recipients.length).toBeLessThanOrEqual(4);
  }, 60_000);
});

describe('a message accepted while Redis does not answer', () => {
  let t: TestApp;
  let sink: SmtpSink;
  beforeAll(async () => {
    sink = new SmtpSink({ users: [SINK_USER] });
    await sink.start();
    // ROLE=api: no worker takes the job, so the queue shows what the accept and the sweep did.
    t = await createTestApp({ ROLE: 'api' });
  });
  afterAll(async () => {
    await t.close();
    await sink.stop();
  });

  it('is answered as accepted (a retry would send it twice), and the sweeper adds its job once Redis is back', async () => {
    const agency = await newAgency(t);
    const server = await createServer(t, smtpServerInput(agency.id, sink.port));
    await verifyAndActivate(t, server.id);
    const queue = t.app.get(DispatchQueue).queue;
    queue.client.disconnect();
    let sent: { sendEmail: { id: string; status: string } };
    try {
      sent = await t.gqlOk<{ sendEmail: { id: string; status: string } }>(`mutation($input: SendEmailInput!) { sendEmail(input: $input) { id status } }`, {
        input: { accountId: agency.id, from: 'news@brand.example', to: 'while-away@example.com', subject: 'x', text: 'x' },
      });
    } finally {
      await queue.client.connect();
    }
    expect(sent.sendEmail.status).toBe('QUEUED');
    expect(await queue.getJob(jobIdOf(sent.sendEmail.id, 0))).toBeNull();

    const db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    try {
      await db.query(`UPDATE messages SET updated_at = now() - interval '1 minute' WHERE id = $1`, [sent.sendEmail.id]);
    } finally {
      await db.end();
    }
    expect(await t.app.get(Sweeper).sweep()).toBe(1);
    expect(await queue.getJob(jobIdOf(sent.sendEmail.id, 1))).not.toBeNull();
  });

  it('is answered within seconds when Redis stalls (the queue client reads nothing), and its job lands once Redis answers', async () => {
    const agency = await newAgency(t);
    const server = await createServer(t, smtpServerInput(agency.id, sink.port));
    await verifyAndActivate(t, server.id);
    const queue = t.app.get(DispatchQueue).queue;
    // A stalled connection: the queue's client stops reading Redis's answers.
    const stream = (queue.client as unknown as { stream: NodeJS.ReadableStream }).stream;
    stream.pause();
    let answer: { sendEmail: { id: string; status: string } } | 'no answer';
    let giveUp: NodeJS.Timeout | undefined;
    try {
      const request = t.gqlOk<{ sendEmail: { id: string; status: string } }>(`mutation($input: SendEmailInput!) { sendEmail(input: $input) { id status } }`, {
        input: { accountId: agency.id, from: 'news@brand.example', to: 'stalled@example.com', subject: 'x', text: 'x' },
      });
      answer = await Promise.race([request, new Promise<'no answer'>((resolve) => (giveUp = setTimeout(() => resolve('no answer'), 10_000)))]);
    } finally {
      clearTimeout(giveUp);
      stream.resume();
    }
    if (answer === 'no answer') throw new Error('sendEmail did not answer while the queue stalled');
    expect(answer.sendEmail.status).toBe('QUEUED');
    const id = answer.sendEmail.id;
    await waitFor('the job added once Redis answers', async () => (await queue.getJob(jobIdOf(id, 0))) !== null, 10_000);
  });
});
