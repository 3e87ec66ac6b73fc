import { Client } from 'pg';
import { DispatchQueue, jobIdOf } from '../../src/modules/messages/dispatch-queue';
import { newAgency } from '../factories/accounts';
import { campaignAct, newCampaign } from '../factories/campaigns';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../factories/delivery-servers';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { SmtpSink } from '../utils/smtp-sink';
import { waitFor } from '../utils/wait-for';

/** Resume in an API-only app (no worker sends anything), so what it schedules stays to be seen. */
describe('resuming a large campaign', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let db: Client;
  beforeAll(async () => {
    sink = new SmtpSink({ users: [SINK_USER] });
    await sink.start();
    t = await createTestApp({ ROLE: 'api' });
    db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    await t.close();
    await sink.stop();
  });

  it('gives every pending message a new schedule and a job, a chunk at a time, keeping a later deferral as it is', async () => {
    const agency = await newAgency(t);
    const server = await createServer(t, smtpServerInput(agency.id, sink.port));
    await verifyAndActivate(t, server.id);
    const recipients = Array.from({ length: 2_100 }, (_, i) => `reader${i}@resume.example`);
    const draft = await newCampaign(t, agency.id, { recipients });
    await campaignAct(t, 'startCampaign', draft.id);
    await campaignAct(t, 'pauseCampaign', draft.id);
    // One waits for a quota reset an hour away; one was sent before the pause.
    const [later, sent] = (await db.query<{ id: string }>('SELECT id FROM messages WHERE campaign_id = $1 ORDER BY id LIMIT 2', [draft.id])).rows.map((r) => r.id);
    await db.query(`UPDATE messages SET status = 'DEFERRED', next_attempt_at = now() + interval '1 hour' WHERE id = $1`, [later]);
    await db.query(`UPDATE messages SET status = 'SENT', sent_at = now() WHERE id = $1`, [sent]);
    const before = new Map((await db.query<{ id: string; dispatch_seq: number }>('SELECT id, dispatch_seq FROM messages WHERE campaign_id = $1', [draft.id])).rows.map((r) => [r.id, r.dispatch_seq]));

    const resumed = await campaignAct(t, 'resumeCampaign', draft.id);
    expect(resumed.status).toBe('SENDING');
    const after = (await db.query<{ id: string; status: string; dispatch_seq: number }>('SELECT id, status, dispatch_seq FROM messages WHERE campaign_id = $1', [draft.id])).rows;
    const queue = t.app.get(DispatchQueue).queue;
    const pending = after.filter((r) => r.id !== sent);
    expect(pending).toHaveLength(2_099);
    expect(pending.filter((r) => r.dispatch_seq !== (before.get(r.id) ?? 0) + 1)).toEqual([]);
    expect(after.find((r) => r.id === later)?.status).toBe('DEFERRED');
    expect(after.find((r) => r.id === sent)?.dispatch_seq).toBe(before.get(sent));
    const jobs = await Promise.all(pending.map((r) => queue.getJob(jobIdOf(r.id, r.dispatch_seq))));
    expect(jobs.filter((j) => !j)).toHaveLength(0);
    // The deferred one's job waits for its time.
    expect((await queue.getJob(jobIdOf(later, (before.get(later) ?? 0) + 1)))?.opts.delay).toBeGreaterThan(50 * 60_000);
  }, 60_000);

  it('paused again while resuming, it stops scheduling after the chunk in progress', async () => {
    const agency = await newAgency(t);
    const server = await createServer(t, smtpServerInput(agency.id, sink.port));
    await verifyAndActivate(t, server.id);
    const draft = await newCampaign(t, agency.id, { recipients: Array.from({ length: 2_100 }, (_, i) => `r${i}@pause-again.example`) });
    await campaignAct(t, 'startCampaign', draft.id);
    await campaignAct(t, 'pauseCampaign', draft.id);
    const seqs = async (): Promise<number[]> => (await db.query<{ dispatch_seq: number }>('SELECT dispatch_seq FROM messages WHERE campaign_id = $1', [draft.id])).rows.map((r) => r.dispatch_seq);
    const before = Math.max(...(await seqs()));

    // The resume's first chunk waits behind locks on every message; the campaign is paused meanwhile.
    const locker = new Client({ connectionString: t.databaseUrl });
    await locker.connect();
    let resuming: Promise<unknown> | undefined;
    try {
      await locker.query('BEGIN');
      await locker.query('SELECT id FROM messages WHERE campaign_id = $1 FOR UPDATE', [draft.id]);
      const [{ pid }] = (await locker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
      resuming = campaignAct(t, 'resumeCampaign', draft.id);
      await waitFor('the first chunk waiting for the locks', async () => {
        const { rows } = await db.query(`SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)) AND query LIKE '%UPDATE messages%'`, [pid]);
        return rows.length > 0;
      });
      await db.query(`UPDATE campaigns SET status = 'PAUSED' WHERE id = $1`, [draft.id]);
      await locker.query('COMMIT');
      await resuming;
    } finally {
      await locker.end();
    }
    const after = await seqs();
    const moved = after.filter((s) => s > before).length;
    expect(moved).toBe(1_000);
    expect(after).toHaveLength(2_100);
  }, 60_000);
});
