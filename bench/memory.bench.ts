// Worker memory with a deep queue: a 100,000-recipient campaign is started in an API-only app
// (all 100,000 QUEUED), then one ROLE=worker child process (test/reliability/worker-process.ts)
// sends to an in-process SMTP sink while its RSS (/proc/<pid>/status VmRSS) is sampled every
// 200 ms, until BENCH_MEMORY_SENT (default 20,000) are SENT or 60 s have passed. The worker runs
// as plain JavaScript, as in production (`node dist/...`): under ts-node the compiler and every
// module's compiled source would add ~100 MB that a deployed worker does not carry.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { newAgency } from '../test/factories/accounts';
import { campaignInput, CREATE_CAMPAIGN } from '../test/factories/campaigns';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../test/factories/delivery-servers';
import { WorkerFleet } from '../test/reliability/worker-harness';
import { createTestApp } from '../test/utils/create-test-app';
import globalSetup from '../test/utils/global-setup';
import globalTeardown from '../test/utils/global-teardown';
import { SmtpSink } from '../test/utils/smtp-sink';
import { checkLaunched, countRows, round, secondsSince, until, withDb } from './bench-utils';

const QUEUED = 100_000;
const PER_CALL = 50_000;
const STOP_AFTER_SENT = Number(process.env.BENCH_MEMORY_SENT ?? 20_000);
const MAX_SAMPLE_MS = 60_000;
const TARGET_MB = 300;
const REPO_ROOT = join(__dirname, '..');

/** Transpiles src/ and the worker entry point (isolatedModules: file by file) into `outDir`, under the repo so node_modules resolve. */
function transpileWorker(outDir: string): string {
  const { config } = ts.readConfigFile(join(REPO_ROOT, 'tsconfig.json'), (f) => ts.sys.readFile(f));
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, REPO_ROOT);
  const compilerOptions = { ...options, sourceMap: false, incremental: false, outDir: undefined };
  const entry = join(REPO_ROOT, 'test', 'reliability', 'worker-process.ts');
  const sources = [entry, ...(readdirSync(join(REPO_ROOT, 'src'), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts')).map((f) => join(REPO_ROOT, 'src', f))];
  for (const file of sources) {
    const out = join(outDir, relative(REPO_ROOT, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions, fileName: file }).outputText);
  }
  return join(outDir, 'test', 'reliability', 'worker-process.js');
}

/** Resident set size of a process in MB, or null once it is gone. */
function rssMb(pid: number): number | null {
  try {
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return kb ? Number(kb[1]) / 1024 : null;
  } catch {
    return null;
  }
}

export async function run(): Promise<Record<string, unknown>[]> {
  await globalSetup();
  const sink = new SmtpSink({ users: [SINK_USER] });
  await sink.start();
  const t = await createTestApp({ ROLE: 'api', LOG_LEVEL: 'silent' });
  const buildDir = join(REPO_ROOT, '.tmp', `bench-memory-${process.pid}`);
  const fleet = new WorkerFleet(t);
  try {
    const agency = await newAgency(t);
    const server = await createServer(t, smtpServerInput(agency.id, sink.port, { pauseMs: 0 }));
    await verifyAndActivate(t, server.id);
    const recipients = Array.from({ length: QUEUED }, (_, i) => `r${i}@list${i % 97}.example.com`);
    const created = await t.gqlOk<{ createCampaign: { id: string } }>(CREATE_CAMPAIGN, { input: campaignInput(agency.id, { recipients: recipients.slice(0, PER_CALL) }) });
    const campaignId = created.createCampaign.id;
    for (let i = PER_CALL; i < QUEUED; i += PER_CALL) {
      await t.gqlOk(`mutation($id: ID!, $r: [String!]!) { addCampaignRecipients(id: $id, recipients: $r) { id } }`, { id: campaignId, r: recipients.slice(i, i + PER_CALL) });
    }
    await t.gqlOk(`mutation($id: ID!) { startCampaign(id: $id) { id } }`, { id: campaignId });

    return await withDb(t.databaseUrl, async (db) => {
      // Its answer cannot show a launch cut short: the rows, the launch cursor and the jobs can.
      await checkLaunched(t, db, campaignId, QUEUED);
      const sent = (): Promise<number> => countRows(db, `SELECT 1 FROM messages WHERE campaign_id = $1 AND status = 'SENT'`, [campaignId]);
      // The default WORKER_CONCURRENCY (50) and sweep interval, as deployed, and the bench's
      // NODE_ENV (production under bench/run.ts); private destinations allowed, as a test worker's
      // are, since the sink is on loopback.
      const worker = await fleet.start({
        name: 'memory',
        concurrency: 50,
        script: transpileWorker(buildDir),
        nodeEnv: process.env.NODE_ENV,
        env: { SWEEP_INTERVAL_MS: '15000', RETRY_BASE_MS: '30000', OUTBOUND_ALLOW_PRIVATE: 'true' },
      });
      const pid = worker.child.pid as number;
      const idleRss = rssMb(pid) ?? 0;
      let peak = idleRss;
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssMb(pid) ?? 0);
        sink.messages.length = 0; // the sink lives in this process: keep it from growing
      }, 200);
      const started = process.hrtime.bigint();
      let sentNow = 0;
      try {
        await until(`${STOP_AFTER_SENT} SENT or ${MAX_SAMPLE_MS / 1000} s`, async () => {
          sentNow = await sent();
          return sentNow >= STOP_AFTER_SENT || secondsSince(started) * 1000 >= MAX_SAMPLE_MS;
        }, MAX_SAMPLE_MS + 30_000, 1000);
      } finally {
        clearInterval(sampler);
      }
      peak = Math.max(peak, rssMb(pid) ?? 0);
      const seconds = secondsSince(started);
      return [
        { bench: 'memory', queued: QUEUED, peakRssMb: Math.round(peak), idleRssMb: Math.round(idleRss), sentDuringSample: sentNow, seconds: round(seconds, 1), targetMb: TARGET_MB, pass: peak < TARGET_MB },
      ];
    });
  } finally {
    await fleet.close();
    rmSync(buildDir, { recursive: true, force: true });
    await t.close();
    await sink.stop();
    await globalTeardown();
  }
}
