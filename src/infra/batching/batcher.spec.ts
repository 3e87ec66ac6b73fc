import { Batcher, CoalescedTasks, SingleFlight } from './batcher';

const deferred = <T = void>(): { promise: Promise<T>; resolve: (v: T) => void } => {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
};

describe('Batcher', () => {
  it('writes the calls of one turn as one batch and answers each with its own result', async () => {
    const batches: number[][] = [];
    const batcher = new Batcher<number, number>(async (items) => {
      batches.push(items);
      return items.map((i) => i * 10);
    }, { maxBatch: 100, maxConcurrent: 1 });
    await expect(Promise.all([1, 2, 3].map((i) => batcher.submit(i)))).resolves.toEqual([10, 20, 30]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('queues calls made while a batch is written into the next one, up to maxBatch each', async () => {
    const gate = deferred();
    const batches: number[][] = [];
    const batcher = new Batcher<number, number>(async (items) => {
      batches.push(items);
      if (batches.length === 1) await gate.promise;
      return items;
    }, { maxBatch: 2, maxConcurrent: 1 });
    const first = batcher.submit(1);
    await new Promise((r) => setImmediate(r));
    const later = [2, 3, 4].map((i) => batcher.submit(i));
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([[1]]);
    gate.resolve();
    await Promise.all([first, ...later]);
    expect(batches).toEqual([[1], [2, 3], [4]]);
  });

  it('starts a second batch in a free slot when more than maxBatch calls wait', async () => {
    const gate = deferred();
    const batches: number[][] = [];
    const batcher = new Batcher<number, number>(async (items) => {
      batches.push(items);
      await gate.promise;
      return items;
    }, { maxBatch: 2, maxConcurrent: 2 });
    const all = [1, 2, 3, 4, 5].map((i) => batcher.submit(i));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([[1, 2], [3, 4]]);
    gate.resolve();
    await Promise.all(all);
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('rejects every call of a failed batch and goes on with the next', async () => {
    let fail = true;
    const batcher = new Batcher<number, number>(async (items) => {
      if (fail) {
        fail = false;
        throw new Error('database away');
      }
      return items;
    }, { maxBatch: 10, maxConcurrent: 1 });
    const failed = [batcher.submit(1), batcher.submit(2)];
    await expect(Promise.all(failed)).rejects.toThrow('database away');
    await expect(Promise.allSettled(failed)).resolves.toEqual([expect.objectContaining({ status: 'rejected' }), expect.objectContaining({ status: 'rejected' })]);
    await expect(batcher.submit(3)).resolves.toBe(3);
  });

  it('with isolateFailures, writes each item of a failed batch alone so only the bad one fails', async () => {
    const writes: number[][] = [];
    const batcher = new Batcher<number, number>(async (items) => {
      writes.push(items);
      if (items.includes(2)) throw new Error('item 2 is bad');
      return items;
    }, { maxBatch: 10, maxConcurrent: 1, isolateFailures: (err) => err instanceof Error && err.message.includes('bad') });
    const results = await Promise.allSettled([1, 2, 3].map((i) => batcher.submit(i)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(writes).toEqual([[1, 2, 3], [1], [2], [3]]);
  });

  it('fails the whole batch at once for an error every item would meet (no item-by-item rerun)', async () => {
    const writes: number[][] = [];
    const batcher = new Batcher<number, number>(async (items) => {
      writes.push(items);
      throw new Error('database away');
    }, { maxBatch: 10, maxConcurrent: 1, isolateFailures: (err) => err instanceof Error && err.message.includes('bad') });
    const results = await Promise.allSettled([1, 2, 3].map((i) => batcher.submit(i)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(writes).toEqual([[1, 2, 3]]);
  });

  it('refuses a write that answers the wrong number of results', async () => {
    const batcher = new Batcher<number, number>(async () => [], { maxBatch: 10, maxConcurrent: 1 });
    await expect(batcher.submit(1)).rejects.toThrow('answered 0 results for 1 items');
  });
});

describe('SingleFlight', () => {
  it('shares one call among concurrent callers of a key, and starts afresh once it answered', async () => {
    const flight = new SingleFlight<number>();
    let calls = 0;
    const gate = deferred();
    const fn = async (): Promise<number> => {
      calls++;
      await gate.promise;
      return calls;
    };
    const together = [flight.run('a', fn), flight.run('a', fn), flight.run('b', fn)];
    gate.resolve();
    await expect(Promise.all(together)).resolves.toEqual([2, 2, 2]);
    expect(calls).toBe(2);
    await flight.run('a', fn);
    expect(calls).toBe(3);
  });
});

describe('SingleFlight with holdMs', () => {
  it('serves an answer for holdMs after it arrived, but never a failure', async () => {
    const flight = new SingleFlight<number>(60_000);
    let calls = 0;
    await flight.run('a', async () => ++calls);
    await expect(flight.run('a', async () => ++calls)).resolves.toBe(1);
    const failing = new SingleFlight<number>(60_000);
    await expect(failing.run('b', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    await expect(failing.run('b', async () => 7)).resolves.toBe(7);
  });
});

describe('CoalescedTasks', () => {
  it('runs once more after requests made during a run, never twice at once, and each caller waits for a run started after it asked', async () => {
    const tasks = new CoalescedTasks();
    const gates = [deferred(), deferred()];
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const task = async (): Promise<void> => {
      const n = runs++;
      running++;
      maxRunning = Math.max(maxRunning, running);
      await gates[n]?.promise;
      running--;
    };
    const first = tasks.request('c', task);
    const second = [tasks.request('c', task), tasks.request('c', task)];
    expect(runs).toBe(1);
    let secondDone = false;
    void Promise.all(second).then(() => (secondDone = true));
    gates[0].resolve();
    await first;
    await new Promise((r) => setImmediate(r));
    expect(secondDone).toBe(false); // the covering run has started but not finished
    expect(runs).toBe(2);
    gates[1].resolve();
    await Promise.all(second);
    expect(maxRunning).toBe(1);
    await tasks.request('c', task);
    expect(runs).toBe(3);
  });
});
