/**
 * The SMTP sink of pacing.int-spec.ts in its own process, so the arrival times it records are
 * not delayed by the test runner's own work and garbage collection.
 */
import { SmtpSink } from '../utils/smtp-sink';
import { serveRpc } from './child-rpc';

export interface Arrival {
  subject: string;
  receivedAt: number;
}

const sink = new SmtpSink();

serveRpc(
  {
    start: () => sink.start(),
    reset: () => Promise.resolve(sink.reset()),
    /** The first `count` messages once they are all in (waitFor fails after its timeout). */
    arrivals: async (count) => (await sink.waitFor(Number(count), 15_000)).map((m): Arrival => ({ subject: m.subject, receivedAt: m.receivedAt })),
  },
  () => sink.stop(),
);
