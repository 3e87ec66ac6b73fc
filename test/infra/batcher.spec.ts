import { Batcher, SingleFlight } from '../../src/infra/batching/batcher';

/** A write function that records each batch and answers every item doubled; `gate` holds writes back until opened. */
function recorder(): { batches: number[][]; write: (items: number[]) => Promise<number[]>; open: () => void } {
  const batches: number[][] = [];
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  return {
    batches,
    open,
    write: async (items) => {
      batches.push(items);
      await gate;
      return items.map((i) => i * 2);
    },
  };
}

describe('Batcher (group commit)', () => {
  it('writes the calls of one turn together and answers each its own result', async () => {
    const r = recorder();
    r.open();
    const batcher = new Batcher(r.write, { maxBatch: 10, maxConcurrent: 1 });
    await expect(Promise.all([1, 2, 3].map((i) => batcher.submit(i)))).resolves.toEqual([2, 4, 6]);
    expect(r.batches).toEqual([[1, 2, 3]]);
  });

  it('collects the calls made while a batch is written into the next one, never more than maxConcurrent at once', async () => {
    const r = recorder();
    const batcher = new Batcher(r.write, { maxBatch: 10, maxConcurrent: 1 });
    const first = batcher.submit(1);
    await new Promise((resolve) => setImmediate(resolve));
    const later = [2, 3, 4].map((i) => batcher.submit(i));
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.batches).toEqual([[1]]); // the second waits for the first
    r.open();
    await expect(Promise.all([first, ...later])).resolves.toEqual([2, 4, 6, 8]);
    expect(r.batches).toEqual([[1], [2, 3, 4]]);
  });

  it('with flushAt, writes as soon as that many calls wait, cancels the linger, and waits for a free slot when all are busy', async () => {
    jest.useFakeTimers();
    try {
      const r = recorder();
      // A linger no test would outlast: only flushAt can write these.
      const batcher = new Batcher(r.write, { maxBatch: 10, maxConcurrent: 1, lingerMs: 600_000, flushAt: 2 });
      const first = [1, 2].map((i) => batcher.submit(i));
      expect(r.batches).toEqual([[1, 2]]);
      expect(jest.getTimerCount()).toBe(0); // the linger the first call started is gone
      const second = [3, 4].map((i) => batcher.submit(i));
      expect(r.batches).toEqual([[1, 2]]); // the only slot is busy
      r.open();
      await expect(Promise.all([...first, ...second])).resolves.toEqual([2, 4, 6, 8]);
      expect(r.batches).toEqual([[1, 2], [3, 4]]);
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('with isolateFailures, a failing batch is written again item by item so only the bad item fails', async () => {
    const batches: number[][] = [];
    const batcher = new Batcher<number, number>(
      async (items) => {
        batches.push(items);
        if (items.includes(13)) throw new Error('bad item');
        return items;
      },
      { maxBatch: 10, maxConcurrent: 1, isolateFailures: () => true },
    );
    const results = await Promise.allSettled([12, 13, 14].map((i) => batcher.submit(i)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(batches).toEqual([[12, 13, 14], [12], [13], [14]]);
  });
});

describe('SingleFlight (shared lookups)', () => {
  const counting = () => {
    let runs = 0;
    return { fn: () => Promise.resolve(++runs), runs: () => runs };
  };

  it('shares a run while it is held, and forgets it by key, by run, or with its variants', async () => {
    const flight = new SingleFlight<number>(60_000);
    const c = counting();
    expect(await flight.run('a', c.fn)).toBe(1);
    expect(await flight.run('a', c.fn)).toBe(1); // held
    const held = flight.run('a', c.fn);
    flight.forget('a', Promise.resolve(1)); // not the held run: it stays
    expect(await flight.run('a', c.fn)).toBe(1);
    flight.forget('a', held); // the held run: gone
    expect(await flight.run('a', c.fn)).toBe(2);

    expect(await flight.run('a\nx', c.fn)).toBe(3);
    expect(await flight.run('ab', c.fn)).toBe(4);
    flight.forgetWithVariants('a'); // "a" and "a\n…", not "ab"
    expect(await flight.run('a', c.fn)).toBe(5);
    expect(await flight.run('a\nx', c.fn)).toBe(6);
    expect(await flight.run('ab', c.fn)).toBe(4);
  });
});
