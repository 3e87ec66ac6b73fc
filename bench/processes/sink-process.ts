/**
 * The benchmarks' SMTP server in its own process, as a provider's would be: its parsing does not
 * compete with the pipeline being measured. Keeps counts, not messages, so memory stays flat.
 */
import { serveRpc } from '../../test/quota/child-rpc';
import { SINK_USER } from '../../test/factories/delivery-servers';
import { SmtpSink } from '../../test/utils/smtp-sink';

const sink = new SmtpSink({ users: [SINK_USER] });
let received = 0;
const messageIds = new Set<string>();
let duplicates = 0;

/** Moves what arrived since the last call into the counters. */
function drain(): void {
  for (const m of sink.messages) {
    received++;
    if (messageIds.has(m.messageId)) duplicates++;
    else if (m.messageId) messageIds.add(m.messageId);
  }
  sink.messages.length = 0;
}
const drainer = setInterval(drain, 200);

serveRpc(
  {
    start: async () => {
      await sink.start();
      return sink.port;
    },
    /** Messages received and Message-IDs seen more than once since the last reset. */
    counts: () => {
      drain();
      return Promise.resolve({ received, duplicates });
    },
    reset: () => {
      drain();
      received = 0;
      duplicates = 0;
      messageIds.clear();
      return Promise.resolve();
    },
  },
  async () => {
    clearInterval(drainer);
    await sink.stop();
  },
);
