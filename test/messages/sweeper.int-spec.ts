import { Client } from 'pg';
import { DispatchQueue, jobIdOf } from '../../src/modules/messages/dispatch-queue';
import { Sweeper } from '../../src/modules/messages/sweeper';
import { newAgency } from '../factories/accounts';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../factories/delivery-servers';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { SmtpSink } from '../utils/smtp-sink';

const SEND = `mutation($input: SendEmailInput!) { sendEmail(input: $input) { id } }`;

/**
 * A message whose worker died mid-send (SENDING, old, its job holding no lock) is handed on by
 * the sweeper, and that lost send counts as an attempt: one that kills its worker every time
 * ends FAILED after MAX_SEND_ATTEMPTS instead of going round for ever. ROLE=api: no worker takes
 * the re-added jobs, so the rows show exactly what the sweep did.
 */
describe('the sweeper and messages whose worker died mid-send', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let db: Client;
  let sweeper: Sweeper;
  beforeAll(async () => {
    sink = new SmtpSink({ users: [SINK_USER] });
    await sink.start();
    t = await createTestApp({ ROLE: 'api', MAX_SEND_ATTEMPTS: '3', STUCK_SENDING_MS: '1000' });
    db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    sweeper = t.app.get(Sweeper);
  });
  afterAll(async () => {
    await db.end();
    await t.close();
    await sink.stop();
  });

  /** A message as a dead worker leaves it: SENDING for a minute, `attempts` lost sends before. */
  async function deadWorkersMessage(accountId: string, attempts: number): Promise<string> {
    const { sendEmail } = await t.gqlOk<{ sendEmail: { id: string } }>(SEND, { input: { accountId, from: 'news@brand.example', to: `r${attempts}@example.com`, subject: 'x', text: 'x' } });
    await db.query(`UPDATE messages SET status = 'SENDING', attempts = $2, updated_at = now() - interval '1 minute' WHERE id = $1`, [sendEmail.id, attempts]);
    return sendEmail.id;
  }

  it('re-adds the job of an overdue pending message only when the job is missing', async () => {
    const agency = await newAgency(t);
    const server = await createServer(t, smtpServerInput(agency.id, sink.port));
    await verifyAndActivate(t, server.id);
    const { sendEmail } = await t.gqlOk<{ sendEmail: { id: string } }>(SEND, { input: { accountId: agency.id, from: 'news@brand.example', to: 'waiting@example.com', subject: 'x', text: 'x' } });
    const queue = t.app.get(DispatchQueue).queue;
    const jobId = jobIdOf(sendEmail.id, 0);
    expect(await queue.getJob(jobId)).not.toBeNull();
    // Fresh: not looked at. Overdue with its job in place: nothing to re-add.
    expect(await sweeper.sweep()).toBe(0);
    await db.query(`UPDATE messages SET updated_at = now() - interval '1 minute' WHERE id = $1`, [sendEmail.id]);
    expect(await sweeper.sweep()).toBe(0);
    // Its job lost (as after a Redis restart): re-added under a new seq, so a copy of the old
    // job that turns up later does nothing.
    await (await queue.getJob(jobId))?.remove();
    expect(await queue.getJob(jobId)).toBeNull();
    expect(await sweeper.sweep()).toBe(1);
    expect((await queue.getJob(jobIdOf(sendEmail.id, 1)))?.data).toEqual({ messageId: sendEmail.id, seq: 1 });
    expect((await db.query('SELECT status, dispatch_seq FROM messages WHERE id = $1', [sendEmail.id])).rows[0]).toEqual({ status: 'QUEUED', dispatch_seq: 1 });
  });

  it('leaves a message a worker claimed between the sweep reading it and finding its job gone', async () => {
    const agency = await newAgency(t);
    const server = await createServer(t, smtpServerInput(agency.id, sink.port));
    await verifyAndActivate(t, server.id);
    const { sendEmail } = await t.gqlOk<{ sendEmail: { id: string } }>(SEND, { input: { accountId: agency.id, from: 'news@brand.example', to: 'raced@example.com', subject: 'x', text: 'x' } });
    const queue = t.app.get(DispatchQueue).queue;
    await db.query(`UPDATE messages SET updated_at = now() - interval '1 minute' WHERE id = $1`, [sendEmail.id]);
    // What a worker does in that gap: claims the message (SENDING), sends it, and its job ends
    // (Bull removes it) before the SENT record is written.
    const lookup = jest.spyOn(sweeper as unknown as { existingJobs: (ids: string[]) => Promise<Set<string>> }, 'existingJobs');
    lookup.mockImplementationOnce(async function (this: Sweeper, ids: string[]) {
      await db.query(`UPDATE messages SET status = 'SENDING', updated_at = now() WHERE id = $1`, [sendEmail.id]);
      await (await queue.getJob(jobIdOf(sendEmail.id, 0)))?.remove();
      lookup.mockRestore();
      return (this as unknown as { existingJobs: (ids: string[]) => Promise<Set<string>> }).existingJobs(ids);
    });

    expect(await sweeper.sweep()).toBe(0);

    expect(await queue.getJob(jobIdOf(sendEmail.id, 0))).toBeNull();
    expect(await queue.getJob(jobIdOf(sendEmail.id, 1))).toBeNull();
    expect((await db.query('SELECT status, dispatch_seq FROM messages WHERE id = $1', [sendEmail.id])).rows[0]).toEqual({ status: 'SENDING', dispatch_seq: 0 });
  });

  it('goes through a backlog larger than its page over the next sweeps: a lost job behind it is found', async () => {
    const agency = await newAgency(t);
    const server = await createServer(t, smtpServerInput(agency.id, sink.port));
    await verifyAndActivate(t, server.id);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { sendEmail } = await t.gqlOk<{ sendEmail: { id: string } }>(SEND, { input: { accountId: agency.id, from: 'news@brand.example', to: `backlog-${i}@example.com`, subject: 'x', text: 'x' } });
      ids.push(sendEmail.id);
    }
    // The oldest overdue messages of all: three hold their jobs, the newest has lost its job.
    for (const [i, id] of ids.entries()) await db.query(`UPDATE messages SET updated_at = now() - interval '2 days' + make_interval(secs => $2) WHERE id = $1`, [id, i]);
    const queue = t.app.get(DispatchQueue).queue;
    await (await queue.getJob(jobIdOf(ids[3], 0)))?.remove();
    sweeper.pageSize = 2;
    try {
      await sweeper.sweep(); // the two oldest: their jobs are there
      expect(await queue.getJob(jobIdOf(ids[3], 1))).toBeNull();
      await sweeper.sweep(); // the next two: the lost one is found
      expect((await queue.getJob(jobIdOf(ids[3], 1)))?.data).toEqual({ messageId: ids[3], seq: 1 });
      for (const id of ids.slice(0, 3)) expect(await queue.getJob(jobIdOf(id, 0))).not.toBeNull();
    } finally {
      sweeper.pageSize = 5_000;
    }
  });

  it('queues it again with the attempt counted, and fails it once the attempts are used up', async () => {
    const agency = await newAgency(t);
    const server = await createServer(t, smtpServerInput(agency.id, sink.port));
    await verifyAndActivate(t, server.id);
    const again = await deadWorkersMessage(agency.id, 0);
    const spent = await deadWorkersMessage(agency.id, 2);

    await sweeper.sweep();

    const { rows } = await db.query<{ id: string; status: string; attempts: number; dispatch_seq: number; error: { code: string; message: string } | null }>(
      `SELECT id, status, attempts, dispatch_seq, error FROM messages WHERE id = ANY($1)`,
      [[again, spent]],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(again)).toMatchObject({ status: 'QUEUED', attempts: 1, dispatch_seq: 1, error: null });
    expect(byId.get(spent)).toMatchObject({ status: 'FAILED', attempts: 3, error: { code: 'PROVIDER_ERROR', message: 'its worker stopped while sending it on every attempt; not tried again' } });
    const events = await db.query<{ message_id: string; type: string }>(`SELECT message_id, type FROM message_events WHERE message_id = ANY($1) ORDER BY id`, [[again, spent]]);
    expect(events.rows.filter((e) => e.message_id === again).map((e) => e.type)).toEqual(['QUEUED', 'QUEUED']);
    expect(events.rows.filter((e) => e.message_id === spent).map((e) => e.type)).toEqual(['QUEUED', 'FAILED']);
  });
});
