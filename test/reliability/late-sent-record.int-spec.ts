import { Client } from 'pg';
import { DispatchQueue, jobIdOf } from '../../src/modules/messages/dispatch-queue';
import { Sweeper } from '../../src/modules/messages/sweeper';
import { newAgency } from '../factories/accounts';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../factories/delivery-servers';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { SmtpSink } from '../utils/smtp-sink';
import { waitFor } from '../utils/wait-for';

const SEND = `mutation($input: SendEmailInput!) { sendEmail(input: $input) { id } }`;
const STUCK_SENDING_MS = 1_000;

/**
 * A trigger that refuses every SENT write with a serialization failure (a transient error, as
 * from a database that is away), counting its refusals in a sequence (which no rollback undoes).
 */
const REFUSE_SENT = `
  CREATE SEQUENCE sent_refusals;
  CREATE FUNCTION refuse_sent() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM nextval('sent_refusals');
    RAISE EXCEPTION 'SENT refused by the test' USING ERRCODE = '40001';
  END $$;
  CREATE TRIGGER refuse_sent BEFORE UPDATE ON messages FOR EACH ROW WHEN (NEW.status = 'SENT') EXECUTE FUNCTION refuse_sent();`;

async function refusals(db: Client): Promise<number> {
  const { rows } = await db.query<{ last_value: string; is_called: boolean }>('SELECT last_value, is_called FROM sent_refusals');
  return rows[0].is_called ? Number(rows[0].last_value) : 0;
}

async function messageRow(db: Client, id: string): Promise<{ status: string; dispatch_seq: number; attempts: number }> {
  const { rows } = await db.query<{ status: string; dispatch_seq: number; attempts: number }>('SELECT status::text AS status, dispatch_seq, attempts FROM messages WHERE id = $1', [id]);
  return rows[0];
}

/**
 * A job ends once the provider accepts its send; the SENT record follows with the next group
 * commit (UnrecordedSends). These tests hold that record back with a real database fault and
 * check what stands in for the ended job: a guard the sweeper honours, and a shutdown that waits.
 */
describe('a SENT record written after its job ended', () => {
  let sink: SmtpSink;
  beforeAll(async () => {
    sink = new SmtpSink({ users: [SINK_USER] });
    await sink.start();
  });
  afterAll(async () => {
    await sink?.stop();
  });

  /** An app with a verified server and the refusing trigger in place; `send` sends one message to `to`. */
  async function setUp(env: Record<string, string>): Promise<{ t: TestApp; db: Client; send: (to: string) => Promise<string> }> {
    const t = await createTestApp({ WORKER_CONCURRENCY: '2', ...env });
    const db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    const agency = await newAgency(t);
    const server = await createServer(t, smtpServerInput(agency.id, sink.port, { senderAddress: 'news@brand.example' }));
    await verifyAndActivate(t, server.id);
    await db.query(REFUSE_SENT);
    const send = async (to: string): Promise<string> =>
      (await t.gqlOk<{ sendEmail: { id: string } }>(SEND, { input: { accountId: agency.id, from: 'news@brand.example', to, subject: 'Late record', text: 'x' } })).sendEmail.id;
    return { t, db, send };
  }

  it('is guarded from the sweeper while it is late, so the message is sent once', async () => {
    // The worker's own sweeps are kept out of the way: this test sweeps when the message is ripe.
    const { t, db, send } = await setUp({ STUCK_SENDING_MS: String(STUCK_SENDING_MS), SWEEP_INTERVAL_MS: '600000' });
    try {
      const queue = t.app.get(DispatchQueue);
      const id = await send('late@guarded.example');
      const jobId = jobIdOf(id, 0);

      await waitFor('the SENT record refused twice', async () => (await refusals(db)) >= 2, 15_000);
      // The job has ended: only the guard says that a live worker has this message in hand.
      expect(await queue.queue.getJob(jobId)).toBeNull();
      await waitFor('the guard of the late record', async () => (await queue.queue.client.exists(queue.recordGuardKey(jobId))) === 1, 5_000);
      await waitFor(
        'the message SENDING for longer than STUCK_SENDING_MS',
        async () => (await db.query(`SELECT 1 FROM messages WHERE id = $1 AND status = 'SENDING' AND updated_at < now() - make_interval(secs => $2)`, [id, (STUCK_SENDING_MS * 1.5) / 1000])).rowCount === 1,
        10_000,
      );

      // Without the guard this would queue it again, and a second worker job would send it again.
      expect(await t.app.get(Sweeper).sweep()).toBe(0);
      expect(await messageRow(db, id)).toMatchObject({ status: 'SENDING', dispatch_seq: 0 });

      await db.query('DROP TRIGGER refuse_sent ON messages');
      await waitFor('the SENT record', async () => (await messageRow(db, id)).status === 'SENT', 15_000);
      await waitFor('the guard released', async () => (await queue.queue.client.exists(queue.recordGuardKey(jobId))) === 0, 5_000);
      expect(await messageRow(db, id)).toMatchObject({ status: 'SENT', dispatch_seq: 0, attempts: 1 });
      expect(sink.messages.filter((m) => m.envelope.to.includes('late@guarded.example'))).toHaveLength(1);
      const { rows: events } = await db.query<{ type: string }>('SELECT type::text AS type FROM message_events WHERE message_id = $1 ORDER BY id', [id]);
      expect(events.map((e) => e.type)).toEqual(['QUEUED', 'ROUTED', 'SENT']);
    } finally {
      await db.end();
      await t.close();
    }
  }, 60_000);

  it('is waited for by a clean stop, and guarded from other workers meanwhile', async () => {
    // Long enough that the stop begins (and closes the queue's own Redis connections) before the
    // record is due for its guard, at half this after the claim.
    const stuckMs = 4 * STUCK_SENDING_MS;
    const { t, db, send } = await setUp({ STUCK_SENDING_MS: String(stuckMs), SWEEP_INTERVAL_MS: '600000' });
    let other: TestApp | undefined;
    try {
      const id = await send('late@stopping.example');
      await waitFor('the SENT record refused', async () => (await refusals(db)) >= 1, 15_000);

      const stopped = t.closeApp();
      stopped.catch(() => undefined); // awaited below; a failure here must not go unhandled meanwhile
      // Another process on the same database and Redis, as a second worker would be.
      other = await createTestApp({ ROLE: 'api', DATABASE_URL: t.databaseUrl, REDIS_PREFIX: t.config.redis.prefix, STUCK_SENDING_MS: String(stuckMs) });
      await waitFor(
        'the message SENDING for longer than STUCK_SENDING_MS',
        async () => (await db.query(`SELECT 1 FROM messages WHERE id = $1 AND status = 'SENDING' AND updated_at < now() - make_interval(secs => $2)`, [id, (stuckMs * 1.25) / 1000])).rowCount === 1,
        20_000,
      );
      const before = await refusals(db);
      // The stop has begun (the queue's own Redis connections are closed) and the worker is still
      // trying to write the record: its guard must hold against the other process's sweeper.
      await waitFor('the record tried again during the stop', async () => (await refusals(db)) >= before + 2, 15_000);
      expect(await other.app.get(Sweeper).sweep()).toBe(0);
      await db.query('DROP TRIGGER refuse_sent ON messages');
      await stopped;

      expect(await messageRow(db, id)).toMatchObject({ status: 'SENT', dispatch_seq: 0, attempts: 1 });
      expect(sink.messages.filter((m) => m.envelope.to.includes('late@stopping.example'))).toHaveLength(1);
    } finally {
      await other?.close();
      await db.end();
      await t.close();
    }
  }, 60_000);
});
