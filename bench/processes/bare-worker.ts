/**
 * The bare pipeline the dispatch bench compares against: a Bull worker in its own process that
 * sends each job through one pooled nodemailer transport, with nothing else (no database, no
 * routing, no quota). Same concurrency and pool size as the mailroute worker.
 */
import Bull from 'bull';
import nodemailer, { type Transporter } from 'nodemailer';
import { serveRpc } from '../../test/quota/child-rpc';
import { SINK_USER } from '../../test/factories/delivery-servers';

interface Setup {
  redisUrl: string;
  prefix: string;
  queueName: string;
  sinkPort: number;
  concurrency: number;
}

let queue: Bull.Queue<{ to: string }> | undefined;
let transport: Transporter | undefined;

serveRpc(
  {
    start: (arg) => {
      const setup = arg as Setup;
      queue = new Bull<{ to: string }>(setup.queueName, setup.redisUrl, { prefix: setup.prefix });
      // The mailroute SMTP pool's settings: 5 connections, 100 messages each.
      transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: setup.sinkPort,
        secure: false,
        ignoreTLS: true,
        pool: true,
        maxConnections: 5,
        maxMessages: 100,
        auth: { user: SINK_USER.user, pass: SINK_USER.pass },
      });
      const mail = transport;
      void queue.process(setup.concurrency, async (job) => {
        await mail.sendMail({ from: 'news@bench.example.com', to: job.data.to, subject: 'Bench', text: 'Hello', html: '<p>Hello</p>' });
      });
      return queue.isReady().then(() => undefined);
    },
    /** CPU time this process has used, in ms. */
    cpu: () => {
      const { user, system } = process.cpuUsage();
      return Promise.resolve((user + system) / 1000);
    },
  },
  async () => {
    await queue?.close();
    transport?.close();
  },
);
