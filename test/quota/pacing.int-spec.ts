import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { PacingService } from '../../src/modules/quota/pacing.service';
import { TEST_REDIS_URL } from '../utils/test-db';
import { ChildRpc } from './child-rpc';
import type { PacingJob } from './pacing-worker';
import { RedisHarness, serverIds } from './quota-harness';
import type { Arrival } from './sink-process';

/** Clock tolerance of the contract's test: every gap >= pauseMs - 5 ms. */
const TOLERANCE_MS = 5;
/**
 * The part of a pause the tests below allow to be spent on round trips to Redis between two
 * steps (what a loaded machine can take), so "a full pause" means more than 75 % of one.
 */
const MARGIN = 0.25;

describe('PacingService', () => {
  const harness = new RedisHarness();
  afterAll(() => harness.close());

  it('spaces sends through one server by pauseMs across 4 concurrent worker processes (measured at the SMTP sink)', async () => {
    // Long enough that one send's duration (which the median gap may add) stays under a pause on a
    // loaded machine, where five processes share two cores.
    const pauseMs = 200;
    const perWorker = 6;
    const warmUps = 5;
    // Workers and sink each in their own process: in one shared event loop (the test runner's)
    // their timers and garbage collection delay each other by more than the 5 ms tolerance.
    const sink = new ChildRpc(join(__dirname, 'sink-process.ts'));
    const workers = Array.from({ length: 4 }, () => new ChildRpc(join(__dirname, 'pacing-worker.ts')));
    try {
      const smtpPort = await sink.call<number>('start');
      const job: Omit<PacingJob, 'worker'> = { serverId: serverIds(), redisUrl: TEST_REDIS_URL, prefix: harness.prefix, smtpPort, pauseMs, count: perWorker, warmUps };
      await Promise.all(workers.map((w, worker) => w.call('prepare', { ...job, worker })));
      await sink.call('arrivals', workers.length * warmUps);
      await sink.call('reset');

      await Promise.all(workers.map((w) => w.call('run')));

      const arrivals = await sink.call<Arrival[]>('arrivals', workers.length * perWorker);
      const received = arrivals.map((m) => m.receivedAt).sort((a, b) => a - b);
      const gaps = received.slice(1).map((t, i) => t - received[i]);
      expect(gaps).toHaveLength(workers.length * perWorker - 1);
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(pauseMs - TOLERANCE_MS);
      // And no slot is wasted: sends follow each other closely (pause + one send's duration).
      expect(gaps.sort((a, b) => a - b)[Math.floor(gaps.length / 2)]).toBeLessThan(2 * pauseMs);
      // Every worker sent its share: the slots were shared, not taken by one process.
      expect(new Set(arrivals.map((m) => m.subject.split(' ')[0])).size).toBe(workers.length);
    } finally {
      await Promise.all([...workers, sink].map((child) => child.stop()));
    }
  }, 60_000); // five processes start ts-node: allow for a loaded machine

  it('a slot further away than maxInlineWaitMs is not taken: the caller re-schedules', async () => {
    // Nothing waits for a slot here: a long pause costs no time and leaves room for slow round trips.
    const pauseMs = 10_000;
    const serverId = serverIds();
    const pacing = harness.pacing();
    const other = harness.pacing();
    expect(await pacing.acquire(serverId, pauseMs, { maxInlineWaitMs: 50 })).toEqual({ reschedule: false, waitedMs: 0 });
    const before = Date.now();
    const second = await other.acquire(serverId, pauseMs, { maxInlineWaitMs: 50 });
    if (!second.reschedule) throw new Error('expected a reschedule');
    expect(second.waitMs).toBeGreaterThan(pauseMs * (1 - MARGIN));
    expect(second.waitMs).toBeLessThanOrEqual(pauseMs);
    expect(second.notBefore.getTime()).toBeGreaterThanOrEqual(before + pauseMs * (1 - MARGIN));
    // The refused slot was not burnt: the next taker gets it, one pause after the first send, not two.
    const third = await other.nextSlot(serverId, pauseMs);
    expect(third.taken).toBe(true);
    expect(third.waitMs).toBeLessThanOrEqual(pauseMs);
    // And that one is now taken: the following slot is a full pause later.
    expect((await pacing.nextSlot(serverId, pauseMs, 0)).waitMs).toBeGreaterThan(pauseMs);
  });

  it('a worker that starts after its slot is held back until pauseMs after the previous actual start', async () => {
    const pauseMs = 2_000;
    const serverId = serverIds();
    const late = harness.pacing();
    const onTime = harness.pacing();
    // `late` takes the first slot but does not start yet (a busy event loop, a GC pause).
    expect(await late.nextSlot(serverId, pauseMs)).toEqual({ taken: true, waitMs: 0 });
    // `onTime` waits for its slot and starts.
    const second = await onTime.acquire(serverId, pauseMs, { maxInlineWaitMs: 2 * pauseMs });
    expect(second.reschedule).toBe(false);
    // Now the late one asks to start: too close to the start that just happened.
    const refused = await late.confirmStart(serverId, pauseMs);
    expect(refused.started).toBe(false);
    expect(refused.waitMs).toBeGreaterThan(pauseMs * (1 - MARGIN));
    expect(refused.waitMs).toBeLessThanOrEqual(pauseMs);
    // And the slots handed out afterwards queue behind the actual starts.
    expect((await onTime.nextSlot(serverId, pauseMs, 0)).waitMs).toBeGreaterThan(pauseMs * (1 - MARGIN));
  });

  it('markSent: the next send starts pauseMs after the previous one finished, however long it took', async () => {
    // Nothing waits for a slot here: a long pause costs no time and leaves room for slow round trips.
    const pauseMs = 10_000;
    const serverId = serverIds();
    const first = harness.pacing();
    const second = harness.pacing();
    expect(await first.acquire(serverId, pauseMs, { maxInlineWaitMs: 0 })).toEqual({ reschedule: false, waitedMs: 0 });
    // … the send runs; when it is done:
    await first.markSent(serverId, pauseMs);
    const next = await second.confirmStart(serverId, pauseMs);
    expect(next.started).toBe(false);
    expect(next.waitMs).toBeGreaterThan(pauseMs * (1 - MARGIN));
    const slot = await second.nextSlot(serverId, pauseMs, 0);
    expect(slot.taken).toBe(false);
    expect(slot.waitMs).toBeGreaterThan(pauseMs * (1 - MARGIN));
  });

  it('a changed pauseMs applies to the very next send; 0 means no pacing at all', async () => {
    const serverId = serverIds();
    const pacing: PacingService = harness.pacing();
    expect((await pacing.nextSlot(serverId, 5_000)).waitMs).toBe(0);
    const shorter = await pacing.nextSlot(serverId, 100);
    expect(shorter.taken).toBe(true);
    expect(shorter.waitMs).toBeLessThanOrEqual(100);
    expect(await pacing.nextSlot(serverId, 0)).toEqual({ taken: true, waitMs: 0 });
    await expect(pacing.nextSlot(serverId, -1)).rejects.toThrow(RangeError);
  });

  /**
   * N sends on one server, each re-scheduled (as its job would be) whenever its slot is further
   * than maxInlineWaitMs: how often they come back, and their spacing.
   */
  const waitInLine = async (waiters: number, pauseMs: number, useLine: boolean): Promise<{ wakeUps: number; starts: number[] }> => {
    const serverId = serverIds();
    const pacing = harness.pacing();
    let wakeUps = 0;
    const starts: number[] = [];
    const send = async (id: string): Promise<void> => {
      for (;;) {
        wakeUps++;
        const slot = await pacing.acquire(serverId, pauseMs, { maxInlineWaitMs: pauseMs, ...(useLine ? { waiter: id } : {}) });
        if (!slot.reschedule) {
          starts.push(Date.now());
          await pacing.markSent(serverId, pauseMs);
          return;
        }
        await delay(slot.waitMs); // what a delayed job does until it runs again
      }
    };
    await Promise.all(Array.from({ length: waiters }, (_v, i) => send(`message-${i}`)));
    return { wakeUps, starts: starts.sort((a, b) => a - b) };
  };

  it('sends waiting for far slots come back one pause apart through the waiting line, not all at the next free slot', async () => {
    const waiters = 50;
    const pauseMs = 60;
    const lined = await waitInLine(waiters, pauseMs, true);
    const gaps = lined.starts.slice(1).map((t, i) => t - lined.starts[i]);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(pauseMs - TOLERANCE_MS);
    // Each comes back a few times at most (early estimates are corrected), not once per slot taken
    // before it. (Early by the round trips between sends: at most a few times on a loaded machine.)
    expect(lined.wakeUps).toBeLessThan(waiters * 6);
    // Told the next free slot alike, the same sends come back about waiters² / 2 times (one slot a round).
    const herd = await waitInLine(waiters, pauseMs, false);
    expect(herd.wakeUps).toBeGreaterThan(waiters * 12);
  }, 30_000);

  it('the waiting line: a place counts those who joined before and are still waiting; leaving and clearing move the rest up', async () => {
    // A long pause: nothing here waits for a slot, the answers are only read.
    const pauseMs = 10_000;
    const serverId = serverIds();
    const pacing = harness.pacing();
    await pacing.nextSlot(serverId, pauseMs); // a send just went: the next free slot is a pause away
    const ask = async (waiter: string): Promise<number> => {
      const slot = await pacing.acquire(serverId, pauseMs, { maxInlineWaitMs: 50, waiter });
      if (!slot.reschedule) throw new Error(`${waiter} took a slot`);
      return slot.waitMs;
    };
    const inPauses = (waitMs: number): number => Math.round(waitMs / pauseMs);
    expect([inPauses(await ask('a')), inPauses(await ask('b')), inPauses(await ask('c'))]).toEqual([1, 2, 3]);
    // Asking again keeps a place in the order (it does not go to the back).
    expect(inPauses(await ask('b'))).toBe(2);
    await pacing.leaveLine(serverId, ['a']);
    expect(inPauses(await ask('c'))).toBe(2);
    await pacing.clearLine(serverId);
    expect(inPauses(await ask('c'))).toBe(1);
  });

  it('a send that took its slot but was held back rejoins the line where it was, not at the back', async () => {
    const pauseMs = 10_000;
    const serverId = serverIds();
    const pacing = harness.pacing();
    await pacing.nextSlot(serverId, pauseMs);
    await pacing.lineWake(serverId, pauseMs, 'x');
    await pacing.lineWake(serverId, pauseMs, 'y');
    // x's turn comes: it takes the slot (leaving the line)…
    const taken = await pacing.nextSlot(serverId, pauseMs, Number.POSITIVE_INFINITY, 'x');
    expect(taken).toMatchObject({ taken: true, leftOrder: 1 });
    // …but cannot start after all (the previous send ran long): it comes back first, y after it.
    const inPauses = (waitMs: number): number => Math.round(waitMs / pauseMs);
    const x = await pacing.lineWake(serverId, pauseMs, 'x', 0, taken.leftOrder);
    const y = await pacing.lineWake(serverId, pauseMs, 'y');
    expect(inPauses(y) - inPauses(x)).toBe(1);
  });

  it('an in-process wait can be aborted (shutdown)', async () => {
    const serverId = serverIds();
    const pacing = harness.pacing();
    await pacing.nextSlot(serverId, 10_000);
    const controller = new AbortController();
    const waiting = pacing.acquire(serverId, 10_000, { maxInlineWaitMs: 20_000, signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toThrow(/abort/i);
  });
});
