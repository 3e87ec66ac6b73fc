// The whole pipeline (campaign → queue → route → quota → pause 0 → SMTP) against a bare Bull +
// pooled nodemailer pipeline sending the same N messages to the same SMTP sink, in one run.
// Each pipeline's worker runs in its own process, and so does the sink (a provider's SMTP
// server is never inside the sender): one mailroute ROLE=worker process, then two, against one
// bare worker process with the same concurrency and SMTP pool. The API (GraphQL in) is this
// process. The full runs also prove the quota holds under load: the server's daily limit is N
// and the campaign has 1 % more recipients, so exactly N must arrive and the rest wait.
// BENCH_DISPATCH_N sets N (default 20,000); BENCH_WORKERS the worker counts to run (default
// "1,2"); BENCH_DISPATCH_ROUNDS how many times bare and full runs alternate (default 2; the
// rates are means, `ratios` each round's own); BENCH_WORKER_NODE_OPTIONS is passed to the
// workers as NODE_OPTIONS (e.g. `--require` a profiler: a worker exits by itself when the run ends).
// Both pipelines are timed alike: from the first job (bare) or startCampaign (full) until the sink
// has received N messages. The full run's records (N SENT, the rest DEFERRED) are checked after
// its clock stops. Both workers get this process's NODE_ENV (production under bench/run.ts). The
// sink takes a few hundred messages before the first round, so no run meets it cold.
// Output per worker count: `workers`, and `concurrency` and `smtpConnections` for all of its
// workers together, against `bareConcurrency` and `bareSmtpConnections` (one process). Only one
// worker has the bare process's resources: that line has `comparable: true` and the `ratio`
// (full/bare, against the target) and `ratios`; with more workers, `comparable: false` and no
// ratio (their rate is shown, not compared: they have that many times the job slots and connections).
import Bull from 'bull';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type { Client } from 'pg';
import { newAgency } from '../test/factories/accounts';
import { campaignInput, CREATE_CAMPAIGN } from '../test/factories/campaigns';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../test/factories/delivery-servers';
import { ChildRpc } from '../test/quota/child-rpc';
import { WorkerFleet, type WorkerProcess } from '../test/reliability/worker-harness';
import { createTestApp, type TestApp } from '../test/utils/create-test-app';
import globalSetup from '../test/utils/global-setup';
import globalTeardown from '../test/utils/global-teardown';
import { TEST_REDIS_URL } from '../test/utils/test-db';
import { countRows, round, secondsSince, until, withDb } from './bench-utils';
import { machineCpuMs, processCpu } from './process-cpu';

const N = Number(process.env.BENCH_DISPATCH_N ?? 20_000);
/** Job slots per worker process (WORKER_CONCURRENCY), mailroute's and bare alike. */
const CONCURRENCY = 50;
/** SMTP connections per worker process: mailroute's pool (POOL_CONNECTIONS) and the bare worker's. */
const SMTP_CONNECTIONS = 5;
/** Messages sent to the sink before the first round, outside any timed window. */
const SINK_WARMUP = 300;
/** Bare and full runs alternate this many times; the rates are their means (BENCH_DISPATCH_ROUNDS). */
const ROUNDS = Number(process.env.BENCH_DISPATCH_ROUNDS ?? 2);
const BARE_QUEUE = 'bench-bare';

/** CPU time (user + system) a process has used, in ms, from /proc. */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (100 Hz)
}

interface SinkCounts {
  received: number;
  duplicates: number;
}

interface BareRun {
  seconds: number;
  cpuMsPerMessage: number;
  machineCpuMsPerMessage: number;
  /** CPU ms per message by process group (worker, sink, api, postgres, redis, other, unattributed). */
  byProcess: Record<string, number>;
}

/** Per message, to 2 decimals. */
const perMessage = (totals: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(totals).map(([k, ms]) => [k, round(ms / N, 2)]));

async function bare(sink: ChildRpc, sinkPort: number, prefix: string): Promise<BareRun> {
  const worker = new ChildRpc(join(__dirname, 'processes', 'bare-worker.ts'));
  const queue = new Bull<{ to: string }>(BARE_QUEUE, TEST_REDIS_URL, { prefix: `${prefix}:bare` });
  try {
    await worker.call('start', { redisUrl: TEST_REDIS_URL, prefix: `${prefix}:bare`, queueName: BARE_QUEUE, sinkPort, concurrency: CONCURRENCY });
    await sink.call('reset');
    const cpuBefore = await worker.call<number>('cpu');
    const machineBefore = machineCpuMs();
    const byProcess = processCpu(() => new Map([[worker.pid as number, 'worker'], [sink.pid as number, 'sink'], [process.pid, 'api']]));
    const started = process.hrtime.bigint();
    for (let i = 0; i < N; i += 1000) {
      await queue.addBulk(Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({ data: { to: `bare.${i + k}@bench.example.com` }, opts: { removeOnComplete: true } })));
    }
    await until('all bare messages at the sink', async () => (await sink.call<SinkCounts>('counts')).received >= N, 30 * 60_000, 50);
    const seconds = secondsSince(started);
    const processes = perMessage(byProcess());
    return { seconds, cpuMsPerMessage: ((await worker.call<number>('cpu')) - cpuBefore) / N, machineCpuMsPerMessage: (machineCpuMs() - machineBefore) / N, byProcess: processes };
  } finally {
    await queue.close();
    await worker.stop();
  }
}

interface FullRun {
  seconds: number;
  sent: number;
  deferred: number;
  received: number;
  duplicates: number;
  cpuMsPerMessage: number;
  machineCpuMsPerMessage: number;
  byProcess: Record<string, number>;
}

async function full(t: TestApp, db: Client, sink: ChildRpc, sinkPort: number, workers: number): Promise<FullRun> {
  const extra = Math.ceil(N / 100);
  // Each run leaves tens of thousands of dead row versions (every message is updated twice).
  // Autovacuum would clear them between runs on any production server, but it may be off on a
  // bench machine (it is off on ours), and then every later run would pay for the earlier ones.
  await db.query('VACUUM ANALYZE');
  const agency = await newAgency(t);
  const server = await createServer(t, smtpServerInput(agency.id, sinkPort, { quota: { hourly: null, daily: N, monthly: null } }));
  await verifyAndActivate(t, server.id);
  const recipients = Array.from({ length: N + extra }, (_, i) => `full.${i}@bench.example.com`);
  const created = await t.gqlOk<{ createCampaign: { id: string } }>(CREATE_CAMPAIGN, { input: campaignInput(agency.id, { recipients }) });
  const campaignId = created.createCampaign.id;
  const fleet = new WorkerFleet(t);
  const running: WorkerProcess[] = [];
  try {
    const pids: number[] = [];
    for (let i = 0; i < workers; i++) {
      // The bare worker (forked with this process's environment) runs under this NODE_ENV too;
      // private destinations stay allowed, as a test worker's are, since the sink is on loopback.
      const worker = await fleet.start({
        name: `bench-${workers}-${i}`,
        concurrency: CONCURRENCY,
        nodeEnv: process.env.NODE_ENV,
        env: { SWEEP_INTERVAL_MS: '15000', OUTBOUND_ALLOW_PRIVATE: 'true', NODE_OPTIONS: process.env.BENCH_WORKER_NODE_OPTIONS ?? '' },
      });
      pids.push(worker.child.pid as number);
      running.push(worker);
    }
    const cpuNow = (): number => pids.reduce((sum, pid) => sum + cpuMsOf(pid), 0);
    await sink.call('reset');
    const cpuBefore = cpuNow();
    const machineBefore = machineCpuMs();
    const byProcess = processCpu(() => new Map([...pids.map((pid) => [pid, 'worker'] as const), [sink.pid as number, 'sink'], [process.pid, 'api']]));
    const started = process.hrtime.bigint();
    await t.gqlOk(`mutation($id: ID!) { startCampaign(id: $id) { id } }`, { id: campaignId });
    const count = (status: string): Promise<number> => countRows(db, `SELECT 1 FROM messages WHERE campaign_id = $1 AND status = $2`, [campaignId, status]);
    // The clock stops as the bare one does: when the sink has received N messages (watched at the
    // sink: counting 20,000 rows every 50 ms would load PostgreSQL under the pipeline it measures).
    await until('N messages at the sink', async () => (await sink.call<SinkCounts>('counts')).received >= N, 30 * 60_000, 50);
    const seconds = secondsSince(started);
    const cpuMsPerMessage = (cpuNow() - cpuBefore) / N;
    const machineCpuMsPerMessage = (machineCpuMs() - machineBefore) / N;
    const processes = perMessage(byProcess());
    // Then, untimed, the records must agree: N SENT and the rest waiting for the quota.
    await until('N messages SENT and the rest waiting for the quota', async () => (await count('SENT')) >= N && (await count('DEFERRED')) >= extra, 30 * 60_000, 200);
    const [sent, deferred, counts] = [await count('SENT'), await count('DEFERRED'), await sink.call<SinkCounts>('counts')];
    return { seconds, sent, deferred, ...counts, cpuMsPerMessage, machineCpuMsPerMessage, byProcess: processes };
  } finally {
    // Closing stdin lets a worker exit by itself (and write a --cpu-prof profile when asked for one).
    for (const w of running) w.child.stdin.end();
    await Promise.race([Promise.all(running.map((w) => w.exited)), new Promise((r) => setTimeout(r, 5_000).unref())]);
    await fleet.close();
  }
}

/** A few hundred messages through one pooled connection set, so round 0's first run does not meet a cold sink. */
async function warmSink(sink: ChildRpc, sinkPort: number): Promise<void> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: sinkPort,
    secure: false,
    ignoreTLS: true,
    pool: true,
    maxConnections: SMTP_CONNECTIONS,
    maxMessages: 100,
    auth: { user: SINK_USER.user, pass: SINK_USER.pass },
  });
  try {
    await sink.call('reset');
    await Promise.all(
      Array.from({ length: SINK_WARMUP }, (_, i) =>
        transport.sendMail({ from: 'news@bench.example.com', to: `warmup.${i}@bench.example.com`, subject: 'Warm-up', text: 'Hello', html: '<p>Hello</p>' }),
      ),
    );
    await until('the warm-up messages at the sink', async () => (await sink.call<SinkCounts>('counts')).received >= SINK_WARMUP, 60_000, 50);
  } finally {
    transport.close();
  }
  await sink.call('reset');
}

export async function run(): Promise<Record<string, unknown>[]> {
  await globalSetup();
  const sink = new ChildRpc(join(__dirname, 'processes', 'sink-process.ts'));
  const sinkPort = await sink.call<number>('start');
  await warmSink(sink, sinkPort);
  // The API only: the workers are child processes.
  const t = await createTestApp({ ROLE: 'api', LOG_LEVEL: 'silent' });
  try {
    return await withDb(t.databaseUrl, async (db) => {
      const workerCounts = (process.env.BENCH_WORKERS ?? '1,2').split(',').map(Number);
      const rounds: { bare: BareRun; full: Map<number, FullRun> }[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        // Bare first in even rounds and last in odd ones: a machine that drifts during a run
        // (other load, PostgreSQL's background work) weighs on both pipelines alike.
        const fullRuns = new Map<number, FullRun>();
        const runFull = async (): Promise<void> => {
          for (const workers of workerCounts) fullRuns.set(workers, await full(t, db, sink, sinkPort, workers));
        };
        let bareRun: BareRun | undefined;
        if (round % 2 === 0) bareRun = await bare(sink, sinkPort, t.config.redis.prefix);
        await runFull();
        bareRun ??= await bare(sink, sinkPort, t.config.redis.prefix);
        rounds.push({ bare: bareRun, full: fullRuns });
      }
      return workerCounts.map((workers) => {
        const perRound = rounds.map(({ bare: b, full: f }) => {
          const r = f.get(workers) as FullRun;
          // Both clocks stop at N messages at the sink.
          return { b, r, fullRate: N / r.seconds, bareRate: N / b.seconds };
        });
        const sum = (pick: (x: (typeof perRound)[number]) => number): number => perRound.reduce((total, x) => total + pick(x), 0);
        const mean = (pick: (x: (typeof perRound)[number]) => number): number => sum(pick) / perRound.length;
        const fullRate = mean((x) => x.fullRate);
        const bareRate = mean((x) => x.bareRate);
        // Only one worker has the bare single process's job slots and SMTP connections.
        const comparable = workers === 1;
        return {
          bench: 'dispatch',
          n: N,
          workers,
          // All of the full run's workers together, against the bare single process.
          concurrency: workers * CONCURRENCY,
          smtpConnections: workers * SMTP_CONNECTIONS,
          bareConcurrency: CONCURRENCY,
          bareSmtpConnections: SMTP_CONNECTIONS,
          rounds: ROUNDS,
          // Means over the rounds; `ratios` lists each round's own.
          full: Math.round(fullRate),
          bare: Math.round(bareRate),
          comparable,
          ...(comparable ? { ratio: round(fullRate / bareRate, 2), ratios: perRound.map((x) => round(x.fullRate / x.bareRate, 2)) } : {}),
          // Worker CPU per message (all worker processes together): less noisy than rates on a busy machine.
          fullWorkerCpuMs: round(mean((x) => x.r.cpuMsPerMessage), 2),
          bareWorkerCpuMs: round(mean((x) => x.b.cpuMsPerMessage), 2),
          // The whole machine's CPU per message (worker, sink, PostgreSQL, Redis, the API, the kernel).
          fullMachineCpuMs: round(mean((x) => x.r.machineCpuMsPerMessage), 2),
          bareMachineCpuMs: round(mean((x) => x.b.machineCpuMsPerMessage), 2),
          // The same by process group, per round (worker, sink, api = this process, postgres, redis, other, unattributed).
          fullCpuMsByProcess: perRound.map((x) => x.r.byProcess),
          bareCpuMsByProcess: perRound.map((x) => x.b.byProcess),
          // Quota: a daily limit of N with N + 1 % recipients; overshoot is what arrived beyond N (worst round).
          quotaLimit: N,
          overshoot: Math.max(...perRound.map((x) => x.r.received - N)),
          duplicates: sum((x) => x.r.duplicates),
          deferred: Math.min(...perRound.map((x) => x.r.deferred)),
        };
      });
    });
  } finally {
    await t.close();
    await sink.stop();
    await globalTeardown();
  }
}
