import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { Client } from 'pg';
import { waitFor } from '../utils/wait-for';
import { freePort } from '../utils/free-port';

const run = promisify(execFile);

/**
 * A Redis server of this test alone (the shared one serves other test files at the same time),
 * in memory only, on a loopback port of its own: it can be killed and started again empty, as a
 * Redis restart that lost its data looks to the app.
 */
export class PrivateRedis {
  private child?: ChildProcess;
  private exited?: Promise<void>;

  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
    await redis.startServer();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** SIGKILL: everything it held is gone. Resolves once the process has exited. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await this.exited;
  }

  /** A new, empty server on the same port. */
  restart(): Promise<void> {
    return this.startServer();
  }

  async stop(): Promise<void> {
    await this.kill();
  }

  private async startServer(): Promise<void> {
    const child = spawn('/usr/bin/redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await waitFor(
        `redis-server on port ${this.port} to answer`,
        async () => {
          if (child.exitCode !== null) throw new Error(`redis-server on port ${this.port} exited (${child.exitCode})`);
          try {
            if (probe.status !== 'ready') await probe.connect();
            return (await probe.ping()) === 'PONG';
          } catch {
            probe.disconnect();
            return false;
          }
        },
        10_000,
      );
    } finally {
      probe.disconnect();
    }
  }
}

/** The server binaries of the newest PostgreSQL installed from Debian's packages (initdb is not on PATH there). */
const PG_BIN = (() => {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  return newest ? join(root, newest, 'bin') : join(root, '15', 'bin');
})();

/**
 * A PostgreSQL cluster of this test alone (initdb into a temporary directory, trust auth,
 * loopback port of its own), so it can be restarted mid-test without touching the shared server.
 * initdb and postgres refuse to run as root: they run as the postgres user.
 */
export class PrivatePostgres {
  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  static async start(): Promise<PrivatePostgres> {
    const dir = await mkdtemp(join(tmpdir(), 'mailroute-pg-'));
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
    const pg = new PrivatePostgres(await freePort(), dir);
    await pg.asPostgres(join(PG_BIN, 'initdb'), ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    await pg.ctl('start');
    return pg;
  }

  /** A URL of a database on this cluster. */
  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Immediate shutdown (no checkpoint, every connection cut, as a crash), then a normal start (crash recovery). */
  async stopImmediate(): Promise<void> {
    await this.asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop']);
  }

  start(): Promise<void> {
    return this.ctl('start');
  }

  /** Whether the cluster answers a query now. */
  async answers(): Promise<boolean> {
    const client = new Client({ connectionString: this.url('postgres'), connectionTimeoutMillis: 1_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async destroy(): Promise<void> {
    await this.asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }

  private async ctl(action: 'start'): Promise<void> {
    // fsync off (an immediate stop kills processes, not the machine: what was written to the OS
    // survives) and a small footprint. Commits stay synchronous: with synchronous_commit off an
    // immediate stop loses the last committed transactions, which a real restart never does.
    const options = `-p ${this.port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=32MB -c max_connections=100`;
    await this.asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', join(this.dir, 'data'), '-o', options, '-l', join(this.dir, 'log'), '-w', '-t', '60', action]);
  }

  private async asPostgres(file: string, args: string[]): Promise<void> {
    await run('runuser', ['-u', 'postgres', '--', file, ...args], { cwd: this.dir, timeout: 90_000 });
  }
}
