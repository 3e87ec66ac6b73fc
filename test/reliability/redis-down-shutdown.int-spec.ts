import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { DispatchQueue } from '../../src/modules/messages/dispatch-queue';
import { PrivateRedis } from './private-services';
import { createTestApp } from '../utils/create-test-app';
import { waitFor } from '../utils/wait-for';

/**
 * A worker whose Redis was never ready. Bull's `process()` starts promises that wait for its
 * clients to become ready and reject, unobserved, when a client ends first (at shutdown): an
 * unhandled rejection, which fails a jest file and ends a Node process with an error. The worker
 * starts processing only once Redis answers.
 */
describe('a worker whose Redis is not ready', () => {
  let silent: Server;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    // Accepts connections and never answers: ioredis stays in its ready check.
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('stops without an unhandled rejection', async () => {
    const t = await createTestApp({ ROLE: 'worker', REDIS_URL: `redis://127.0.0.1:${(silent.address() as AddressInfo).port}` });
    const queue = t.app.get(DispatchQueue).queue;
    await waitFor('the queue client to connect', async () => queue.client.status === 'connect');
    await t.close();
    // Jest fails the test on an unhandled rejection reported while it runs: give Node its turn.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
  });

  it('starts taking jobs once Redis comes up', async () => {
    const redis = await PrivateRedis.start();
    await redis.kill();
    const t = await createTestApp({ ROLE: 'worker', REDIS_URL: redis.url });
    try {
      const queue = t.app.get(DispatchQueue).queue;
      await redis.restart();
      // Bull's reconnect delay (min(e^attempt, 20 s)) reaches 20 s while Redis is down, so its next
      // attempt can come that late: the budget leaves room for it and the job after it.
      const ran = await waitFor('the worker to take a job', async () => {
        if (queue.client.status !== 'ready') return false;
        const job = (await queue.getJob('probe')) ?? (await queue.add({ messageId: '00000000-0000-4000-8000-000000000000', seq: 1 }, { jobId: 'probe' }));
        return ['completed', 'failed'].includes(await job.getState());
      }, 45_000, 250);
      expect(ran).toBe(true);
    } finally {
      await t.close();
      await redis.stop();
    }
  }, 60_000);
});
