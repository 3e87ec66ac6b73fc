interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (reason: unknown) => void;
}

export interface BatcherOptions {
  /** Most items one call of `write` receives. */
  maxBatch: number;
  /** Batches written at the same time; calls made meanwhile wait for the next one. */
  maxConcurrent: number;
  /** How long the first call of a batch waits for company (ms); 0: the next turn of the event loop. */
  lingerMs?: number;
  /**
   * Written without waiting out the linger once this many calls wait: when no more can come
   * (each of N callers has one call at a time), waiting longer only delays them.
   */
  flushAt?: number;
  /**
   * When a batch of several fails with an error this accepts, write each item alone, so one bad
   * item fails only its own call. (Not for errors every item would meet again, such as the
   * database being away: those fail the batch at once.)
   */
  isolateFailures?: (err: unknown) => boolean;
}

/**
 * Group commit: calls made while earlier batches are being written queue up and go together
 * in the next batch. Alone, a call is written on the next turn of the event loop; under load,
 * N concurrent jobs cost one statement (and one commit) instead of N. `write` answers with one
 * result per item, in order; when it throws, every call of that batch rejects with the error
 * (or, with isolateFailures, each item is written alone and fails alone).
 */
export class Batcher<I, O> {
  private readonly waiting: Waiting<I, O>[] = [];
  private running = 0;
  private scheduled = false;
  private lingerTimer?: NodeJS.Timeout;

  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly options: BatcherOptions,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running >= this.options.maxConcurrent || !this.waiting.length) return;
    if (this.options.flushAt && this.waiting.length >= this.options.flushAt) {
      void this.flush();
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    const flush = (): void => {
      this.scheduled = false;
      void this.flush();
    };
    // At least one macrotask of delay lets the calls of this turn join the batch.
    if (this.options.lingerMs) this.lingerTimer = setTimeout(flush, this.options.lingerMs);
    else setImmediate(flush);
  }

  private async writeAll(batch: Waiting<I, O>[]): Promise<void> {
    const results = await this.write(batch.map((w) => w.item));
    if (results.length !== batch.length) throw new Error(`Batch write answered ${results.length} results for ${batch.length} items`);
    batch.forEach((w, i) => w.resolve(results[i]));
  }

  private async flush(): Promise<void> {
    if (this.running >= this.options.maxConcurrent || !this.waiting.length) return;
    const batch = this.waiting.splice(0, this.options.maxBatch);
    if (!this.waiting.length && this.lingerTimer) {
      // Written early (flushAt): the linger has nothing left to wait for.
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
      this.scheduled = false;
    }
    this.running++;
    // More than one batch waiting: the next may start in a free slot right away.
    this.schedule();
    try {
      await this.writeAll(batch).catch(async (err: unknown) => {
        if (!this.options.isolateFailures?.(err) || batch.length === 1) throw err;
        for (const w of batch) await this.writeAll([w]).catch((itemErr: unknown) => w.reject(itemErr));
      });
    } catch (err) {
      for (const w of batch) w.reject(err);
    } finally {
      this.running--;
      this.schedule();
    }
  }
}

/**
 * Calls with the same key while one is in flight share its answer: fifty jobs of one campaign
 * that need the same route at the same moment cause one lookup. With `holdMs`, an answer also
 * serves the calls made up to that long after it arrived (a failure never does), so nothing is
 * older than one lookup plus holdMs.
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();

  constructor(private readonly holdMs = 0) {}

  run(key: string, fn: () => Promise<T>): Promise<T> {
    const current = this.inFlight.get(key);
    if (current) return current;
    const started = fn();
    this.inFlight.set(key, started);
    const forget = (): void => {
      if (this.inFlight.get(key) === started) this.inFlight.delete(key);
    };
    started.then(
      () => (this.holdMs > 0 ? setTimeout(forget, this.holdMs).unref() : forget()),
      forget,
    );
    return started;
  }

  /**
   * The next call with this key runs anew. With `only`, just if that run is still the one held
   * (a newer run, started since, stays).
   */
  forget(key: string, only?: Promise<T>): void {
    if (only === undefined || this.inFlight.get(key) === only) this.inFlight.delete(key);
  }

  /** Forgets `key` and every key made of it, a newline and more (its variants). */
  forgetWithVariants(key: string): void {
    this.inFlight.delete(key);
    for (const k of this.inFlight.keys()) if (k.startsWith(`${key}\n`)) this.inFlight.delete(k);
  }
}

/**
 * Tasks that must run at least once after every request, but never twice at once per key:
 * requests made while a key's task runs are all served by one more run after it. Each caller
 * gets the run that covers its request.
 */
export class CoalescedTasks {
  private readonly entries = new Map<string, { next: Promise<void> | null }>();
  private readonly running = new Map<string, Promise<void>>();

  request(key: string, task: () => Promise<void>): Promise<void> {
    const running = this.running.get(key);
    const entry = this.entries.get(key);
    if (!running || !entry) return this.start(key, task);
    entry.next ??= running.catch(() => undefined).then(() => this.start(key, task));
    return entry.next;
  }

  private start(key: string, task: () => Promise<void>): Promise<void> {
    const entry = { next: null as Promise<void> | null };
    const run = task().finally(() => {
      // A request made meanwhile starts the next run itself; otherwise the key is idle.
      if (this.entries.get(key) === entry && !entry.next) {
        this.entries.delete(key);
        this.running.delete(key);
      }
    });
    this.entries.set(key, entry);
    this.running.set(key, run);
    return run;
  }
}
