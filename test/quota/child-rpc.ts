import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';

/**
 * Request/answer over the IPC channel of a forked TypeScript file, so a test can run parts of
 * the system in their own processes (own event loop, own garbage collector): worker "machines"
 * and the SMTP sink in pacing.int-spec.ts.
 */
interface Request {
  id: number;
  method: string;
  arg: unknown;
}
type Answer = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** Parent side. */
export class ChildRpc {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private seq = 0;

  /** The child's process id (benchmarks read its CPU time from /proc). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  constructor(private readonly file: string) {
    this.child = fork(file, [], {
      execArgv: ['-r', 'ts-node/register/transpile-only'],
      env: { ...process.env, TS_NODE_PROJECT: join(__dirname, '../../tsconfig.json') },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.rejectAll(new Error(`${file} exited (${code ?? signal}) before answering`));
        resolve();
      });
      // Not started at all (no 'exit' follows then), or a message that could not be sent: fail
      // the calls waiting for an answer instead of the test run (an unheard 'error' is thrown).
      this.child.on('error', (err) => {
        this.rejectAll(new Error(`${file}: ${err.message}`));
        if (this.child.pid === undefined) resolve();
      });
    });
    this.child.on('message', (answer: Answer) => {
      const p = this.pending.get(answer.id);
      if (!p) return;
      this.pending.delete(answer.id);
      if (answer.ok) p.resolve(answer.result);
      else p.reject(new Error(answer.error));
    });
  }

  call<T>(method: string, arg?: unknown): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      if (!this.child.connected) return reject(new Error(`${this.file} is not running (calling ${method})`));
      this.pending.set(id, { resolve: (v) => resolve(v as T), reject });
      // The channel can close under the send (the child died): that fails this call only.
      this.child.send({ id, method, arg } satisfies Request, (err) => {
        if (!err || !this.pending.delete(id)) return;
        reject(new Error(`${this.file}: could not send ${method}: ${err.message}`));
      });
    });
  }

  /**
   * Closes the channel (the child then cleans up and exits) and waits for the exit; a child
   * still there after `timeoutMs` is killed.
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (this.child.connected) this.child.disconnect();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs)));
    try {
      if (await Promise.race([this.exited.then(() => false), late])) {
        this.child.kill('SIGKILL');
        await this.exited;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private rejectAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

/** Child side: answer requests with `handlers`; `onClose` runs when the parent lets go. */
export function serveRpc(handlers: Record<string, (arg: unknown) => Promise<unknown>>, onClose: () => Promise<void>): void {
  process.on('message', (request: Request) => {
    const handler = handlers[request.method];
    // Without a callback, a send after the parent let go throws (ERR_IPC_CHANNEL_CLOSED); the
    // answer is then for nobody, and 'disconnect' below ends the process.
    const answer = (a: Answer): void => void process.send?.(a, undefined, undefined, () => undefined);
    if (!handler) return answer({ id: request.id, ok: false, error: `no method ${request.method}` });
    handler(request.arg).then(
      (result) => answer({ id: request.id, ok: true, result }),
      (err: unknown) => answer({ id: request.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  });
  process.once('disconnect', () => void onClose().finally(() => process.exit(0)));
}
