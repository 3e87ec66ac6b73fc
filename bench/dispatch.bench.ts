// The whole pipeline (campaign → queue → route → quota → pause 0 → SMTP) against a bare Bull +
// pooled nodemailer pipeline sending the same N messages to the same SMTP sink, in one run.
// BENCH_DISPATCH_N sets N (default 20,000). Prints both rates and full/bare.
import Bull from 'bull';
import nodemailer from 'nodemailer';
import { Client } from 'pg';
import { newAgency } from '../test/factories/accounts';
import { campaignInput, CREATE_CAMPAIGN } from '../test/factories/campaigns';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../test/factories/delivery-servers';
import { createTestApp, type TestApp } from '../test/utils/create-test-app';
import globalSetup from '../test/utils/global-setup';
import globalTeardown from '../test/utils/global-teardown';
import { SmtpSink } from '../test/utils/smtp-sink';
import { TEST_REDIS_URL } from '../test/utils/test-db';

const N = Number(process.env.BENCH_DISPATCH_N ?? 20_000);
const CONCURRENCY = 50;

async function until(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 30 * 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function full(t: TestApp, sinkPort: number): Promise<number> {
  const agency = await newAgency(t);
  const server = await createServer(t, smtpServerInput(agency.id, sinkPort));
  await verifyAndActivate(t, server.id);
  const recipients = Array.from({ length: N }, (_, i) => `full.${i}@bench.example.com`);
  const created = await t.gqlOk<{ createCampaign: { id: string } }>(CREATE_CAMPAIGN, { input: campaignInput(agency.id, { recipients }) });
  const db = new Client({ connectionString: t.databaseUrl });
  await db.connect();
  try {
    const started = process.hrtime.bigint();
    await t.gqlOk(`mutation($id: ID!) { startCampaign(id: $id) { id } }`, { id: created.createCampaign.id });
    await until('all campaign messages SENT', async () => {
      const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM messages WHERE campaign_id = $1 AND status = 'SENT'`, [created.createCampaign.id]);
      return Number(rows[0].n) >= N;
    });
    return Number(process.hrtime.bigint() - started) / 1e9;
  } finally {
    await db.end();
  }
}

async function bare(sink: SmtpSink, prefix: string): Promise<number> {
  const queue = new Bull<{ to: string }>('bench-bare', TEST_REDIS_URL, { prefix: `${prefix}:bare` });
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: sink.port, secure: false, ignoreTLS: true, pool: true, maxConnections: 5, auth: { user: SINK_USER.user, pass: SINK_USER.pass } });
  const before = sink.messages.length;
  void queue.process(CONCURRENCY, async (job) => {
    await transport.sendMail({ from: 'news@bench.example.com', to: job.data.to, subject: 'Bench', text: 'Hello', html: '<p>Hello</p>' });
  });
  try {
    const started = process.hrtime.bigint();
    for (let i = 0; i < N; i += 1000) {
      await queue.addBulk(Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({ data: { to: `bare.${i + k}@bench.example.com` }, opts: { removeOnComplete: true } })));
    }
    await until('all bare messages at the sink', () => sink.messages.length - before >= N);
    return Number(process.hrtime.bigint() - started) / 1e9;
  } finally {
    await queue.close();
    transport.close();
  }
}

export async function run(): Promise<Record<string, unknown>[]> {
  await globalSetup();
  const sink = new SmtpSink({ users: [SINK_USER] });
  await sink.start();
  const t = await createTestApp({ ROLE: 'all', WORKER_CONCURRENCY: String(CONCURRENCY), LOG_LEVEL: 'silent' });
  try {
    const bareSeconds = await bare(sink, t.config.redis.prefix);
    sink.messages.length = 0; // keep the sink's memory flat between the two runs
    const fullSeconds = await full(t, sink.port);
    const fullRate = N / fullSeconds;
    const bareRate = N / bareSeconds;
    return [{ bench: 'dispatch', n: N, workers: 1, concurrency: CONCURRENCY, full: Math.round(fullRate), bare: Math.round(bareRate), ratio: Math.round((fullRate / bareRate) * 100) / 100 }];
  } finally {
    await t.close();
    await sink.stop();
    await globalTeardown();
  }
}
