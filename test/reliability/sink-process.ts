/**
 * An SMTP sink (accepting SINK_USER) in its own process for two-workers.int-spec.ts, so the
 * arrival times it records are not delayed by the test runner's own work (the in-process app,
 * GraphQL, garbage collection), as in test/quota/sink-process.ts.
 */
import { SINK_USER } from '../factories/delivery-servers';
import { serveRpc } from '../quota/child-rpc';
import { SmtpSink } from '../utils/smtp-sink';

export interface SinkArrival {
  to: string[];
  messageId: string;
  receivedAt: number;
}

const sink = new SmtpSink({ users: [SINK_USER] });

serveRpc(
  {
    start: () => sink.start(),
    /** Everything that arrived so far. */
    arrivals: () => Promise.resolve(sink.messages.map((m): SinkArrival => ({ to: m.envelope.to, messageId: m.messageId, receivedAt: m.receivedAt }))),
  },
  () => sink.stop(),
);
