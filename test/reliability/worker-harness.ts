import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from 'pg';
import { type TestApp, UNREACHABLE_PROVIDERS } from '../utils/create-test-app';
import { waitFor } from '../utils/wait-for';

export { quietHour } from '../utils/quiet-clock';

/** ts-node compiles the whole app on start: slow, and slower on a loaded machine. */
export const BOOT_TIMEOUT_MS = 90_000;
const REPO_ROOT = join(__dirname, '..', '..');

export interface WorkerProcess {
  name: string;
  child: ChildProcessWithoutNullStreams;
  /** Resolves once the process has exited (for any reason). */
  exited: Promise<void>;
  /** The last few KB the process wrote to stderr, for failure messages. */
  stderr(): string;
}

export interface WorkerOptions {
  /** Names the process in failures. */
  name: string;
  /** Jobs the worker takes at once (WORKER_CONCURRENCY). */
  concurrency: number;
  /** Overrides of the worker's environment (DATABASE_URL, REDIS_URL, STUCK_SENDING_MS, provider URLs…). */
  env?: Record<string, string>;
  /** A compiled JavaScript entry to run with plain node instead of worker-process.ts under ts-node (the memory bench). */
  script?: string;
  /**
   * The worker's NODE_ENV: 'test' unless given. The benches pass their own (bench/run.ts sets
   * 'production'), so a worker runs its libraries as the bench's other processes do.
   */
  nodeEnv?: string;
}

/**
 * Real ROLE=worker child processes (test/reliability/worker-process.ts) on one test app's
 * database, Redis prefix and credentials key. `close()` kills whatever is still running.
 */
export class WorkerFleet {
  private readonly workers: WorkerProcess[] = [];

  constructor(private readonly t: TestApp) {}

  /** Starts a worker; resolves once it is taking jobs (it printed `ready`). */
  async start(options: WorkerOptions): Promise<WorkerProcess> {
    const { keys, currentKeyId } = this.t.config.credentials;
    const args = options.script ? [options.script] : ['-r', 'ts-node/register/transpile-only', join('test', 'reliability', 'worker-process.ts')];
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: options.nodeEnv ?? 'test',
        ROLE: 'worker',
        PORT: '3999', // required by the config; worker-process never listens
        DATABASE_URL: this.t.databaseUrl,
        REDIS_URL: this.t.config.redis.url,
        REDIS_PREFIX: this.t.config.redis.prefix,
        // The servers' credentials were sealed by the in-process app: the worker must open them with the same key.
        CREDENTIALS_KEY: keys[currentKeyId].toString('base64'),
        ADMIN_TOKEN: this.t.adminToken,
        LOG_LEVEL: 'silent',
        WORKER_CONCURRENCY: String(options.concurrency),
        SWEEP_INTERVAL_MS: '500',
        RETRY_BASE_MS: '100',
        // Every provider API resolves to a closed port unless a test points one at its fake, as in createTestApp.
        ...UNREACHABLE_PROVIDERS,
        ...options.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4000);
    });
    const worker: WorkerProcess = { name: options.name, child, exited, stderr: () => stderr };
    this.workers.push(worker);
    let stdout = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(`not ready within ${BOOT_TIMEOUT_MS} ms`), BOOT_TIMEOUT_MS);
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => fail(`exited before ready (code ${code}, signal ${signal})`);
      const onData = (chunk: Buffer): void => {
        stdout += chunk.toString('utf8');
        if (!/^ready$/m.test(stdout)) return;
        clearTimeout(timer);
        child.off('exit', onExit);
        child.stdout.off('data', onData);
        resolve();
      };
      function fail(why: string): void {
        clearTimeout(timer);
        child.off('exit', onExit);
        reject(new Error(`worker ${options.name} ${why}; stderr: ${stderr}`));
      }
      child.stdout.on('data', onData);
      child.once('exit', onExit);
    });
    // Keep draining stdout so a chatty worker never blocks on a full pipe.
    child.stdout.resume();
    return worker;
  }

  /**
   * SIGKILL (no shutdown hook runs), then waits until its PostgreSQL connections are gone: a
   * statement it wrote just before dying may still be executed by its backend, so the picture
   * in the database is final only then. Its connections are told from those of the other
   * workers on the same database by their client ports (all of them carry the application name
   * `mailroute-worker`).
   */
  async kill(worker: WorkerProcess, db: Client): Promise<void> {
    // Frozen first, so the connections read below are all it has when it dies.
    worker.child.kill('SIGSTOP');
    let backends: number[];
    try {
      backends = await backendsOf(worker.child.pid ?? 0, db);
    } finally {
      worker.child.kill('SIGKILL');
      await worker.exited;
    }
    // None: nothing it started can still be running in the database.
    if (!backends.length) return;
    await waitFor(
      `the killed worker ${worker.name}'s database connections to close`,
      async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1::int[])', [backends])).rows[0].n === 0,
      15_000,
    );
  }

  async close(): Promise<void> {
    for (const w of this.workers) {
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
      await w.exited;
    }
  }
}

/**
 * The PostgreSQL backends (pids) serving process `pid`, on the server `db` is connected to: the
 * client ports of its TCP connections to that server (Linux /proc), as pg_stat_activity shows them.
 * A process that has already exited has none.
 */
async function backendsOf(pid: number, db: Client): Promise<number[]> {
  const inodes = new Set<string>();
  const fds = await readdir(`/proc/${pid}/fd`).catch(ifExited([] as string[]));
  for (const fd of fds) {
    const inode = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''))?.[1];
    if (inode) inodes.add(inode);
  }
  if (!inodes.size) return [];
  const serverPort = (await db.query<{ port: number }>('SELECT inet_server_port() AS port')).rows[0].port;
  const clientPorts: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    const text = await readFile(`/proc/${pid}/net/${table}`, 'utf8').catch(ifExited(''));
    // Columns: sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode…; addresses as hex ip:port.
    for (const line of text.split('\n').slice(1)) {
      const [, local, remote, , , , , , , inode] = line.trim().split(/\s+/);
      if (!inode || !inodes.has(inode)) continue;
      if (parseInt(remote.split(':')[1], 16) === serverPort) clientPorts.push(parseInt(local.split(':')[1], 16));
    }
  }
  // None to PostgreSQL's port: no database connection was open (nothing of it can still run there).
  const { rows } = await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE client_port = ANY($1::int[])', [clientPorts]);
  return rows.map((r) => r.pid);
}

/** A catch handler: `value` when /proc no longer has the process (it exited), else rethrows. */
function ifExited<T>(value: T): (err: unknown) => T {
  return (err) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') return value;
    throw err;
  };
}

/** Status → count of a set of message rows. */
export function countBy<T>(items: Iterable<T>, key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

export interface CampaignRow {
  id: string;
  status: string;
  next_attempt_at: Date | null;
}

/**
 * Waits until every message of a campaign sent through a server with an hourly limit and WAIT is
 * either SENT or DEFERRED to the end of the hour, and returns them. A message put back for any
 * other reason (a retry, a re-queue) keeps the wait going until it is settled too.
 */
export async function settledUnderHourlyLimit(db: Client, campaignId: string, resetsAt: Date, timeoutMs: number): Promise<CampaignRow[]> {
  const rows = async (): Promise<CampaignRow[]> => (await db.query<CampaignRow>('SELECT id, status::text AS status, next_attempt_at FROM messages WHERE campaign_id = $1', [campaignId])).rows;
  const waitsForReset = (r: CampaignRow): boolean => r.status === 'DEFERRED' && r.next_attempt_at !== null && r.next_attempt_at >= resetsAt;
  return waitFor(
    'every message SENT or waiting for the hourly reset',
    async () => {
      const now = await rows();
      return now.every((r) => r.status === 'SENT' || waitsForReset(r)) ? now : null;
    },
    timeoutMs,
    200,
  ).catch(async (err: unknown) => {
    throw new Error(`${err instanceof Error ? err.message : String(err)}; statuses: ${JSON.stringify(countBy(await rows(), (r) => r.status))}`);
  });
}

/**
 * The hourly limit held exactly and nothing was lost or sent twice: `limit` messages SENT, the
 * rest DEFERRED to the reset, and one arrival per SENT message, each with that message's own
 * Message-ID (`<messageId@host>`).
 */
export function expectExactlyLimitSent(settled: CampaignRow[], arrivedMessageIds: string[], limit: number): void {
  expect(countBy(settled, (r) => r.status)).toEqual({ SENT: limit, DEFERRED: settled.length - limit });
  expect(arrivedMessageIds).toHaveLength(limit);
  expect(new Set(arrivedMessageIds).size).toBe(limit);
  const sentIds = settled.filter((r) => r.status === 'SENT').map((r) => r.id);
  expect(arrivedMessageIds.filter((mid) => !sentIds.some((id) => mid.includes(id)))).toEqual([]);
}
