import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ElasticEmailAdapter } from '../../src/providers/elastic-email/elastic-email.adapter';
import { MailgunAdapter } from '../../src/providers/mailgun/mailgun.adapter';
import { DeliveryErrorCode, DeliveryProvider, TransportKind } from '../../src/providers/provider.enums';
import type { ProviderAdapter, ProviderServer } from '../../src/providers/provider.types';
import { SendGridAdapter } from '../../src/providers/sendgrid/sendgrid.adapter';
import { SesAdapter } from '../../src/providers/ses/ses.adapter';
import { SparkPostAdapter } from '../../src/providers/sparkpost/sparkpost.adapter';
import { neverReached } from '../../src/providers/never-reached';
import { freePort } from '../utils/free-port';
import { caught, config, message } from './helpers';

/**
 * Every API adapter, against a provider that takes the whole request and then resets the
 * connection without answering: the provider may have accepted the message, so the failure is a
 * TIMEOUT (its quota unit is kept), not CONNECTION_FAILED, which says the provider cannot have it.
 */
const adapters: { name: string; server: ProviderServer; adapter: (url: string) => ProviderAdapter }[] = [
  {
    name: 'SendGrid',
    server: { id: 'srv', provider: DeliveryProvider.SENDGRID, credentials: { sendgrid: { apiKey: 'SG.key', region: 'GLOBAL' } } },
    adapter: (url) => new SendGridAdapter(config({ sendgridApiUrl: `${url}/` })),
  },
  {
    name: 'Mailgun',
    server: { id: 'srv', provider: DeliveryProvider.MAILGUN, credentials: { mailgun: { apiKey: 'key-test', domain: 'mg.example.com', region: 'US' } } },
    adapter: (url) => new MailgunAdapter(config({ mailgunApiUrl: url })),
  },
  {
    name: 'Amazon SES',
    server: { id: 'srv', provider: DeliveryProvider.AMAZON_SES, credentials: { ses: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret', region: 'us-east-1' } } },
    adapter: (url) => new SesAdapter(config({ sesEndpoint: url })),
  },
  {
    name: 'SparkPost',
    server: { id: 'srv', provider: DeliveryProvider.SPARKPOST, credentials: { sparkpost: { apiKey: 'sp-key', region: 'US' } } },
    adapter: (url) => new SparkPostAdapter(config({ sparkpostApiUrl: url })),
  },
  {
    name: 'Elastic Email',
    server: { id: 'srv', provider: DeliveryProvider.ELASTIC_EMAIL, credentials: { elasticEmail: { apiKey: 'EE-key' } } },
    adapter: (url) => new ElasticEmailAdapter(config({ elasticEmailApiUrl: url })),
  },
];

describe('an API connection lost after the request went out', () => {
  let resetting: Server;
  let received = 0;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    // Reads until the request's headers (and any body) have arrived, then resets the connection.
    resetting = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      let seen = '';
      socket.on('data', (chunk: Buffer) => {
        seen += chunk.toString('latin1');
        const end = seen.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(seen)?.[1] ?? 0);
        if (Buffer.byteLength(seen.slice(end + 4), 'latin1') < length) return;
        received++;
        socket.resetAndDestroy();
      });
    });
    await new Promise<void>((resolve) => resetting.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => resetting.close(resolve));
  });

  it.each(adapters)('$name: a reset after the request is a transient TIMEOUT, and the message may have reached the provider', async ({ server, adapter }) => {
    const before = received;
    const url = `http://127.0.0.1:${(resetting.address() as AddressInfo).port}`;
    const err = await caught(adapter(url).send(server, message()));
    expect(received).toBeGreaterThan(before);
    expect(err).toMatchObject({ code: DeliveryErrorCode.TIMEOUT, transient: true, transport: TransportKind.API });
    expect(err.message).toMatch(/lost before it answered|did not answer/);
    expect(neverReached(err)).toBe(false);
  });

  it.each(adapters)('$name: a refused connection is a transient CONNECTION_FAILED, and the message never reached the provider', async ({ server, adapter }) => {
    const err = await caught(adapter(`http://127.0.0.1:${await freePort()}`).send(server, message()));
    expect(err).toMatchObject({ code: DeliveryErrorCode.CONNECTION_FAILED, transient: true, transport: TransportKind.API });
    expect(neverReached(err)).toBe(true);
  });
});

describe('an API connection whose TLS handshake fails', () => {
  let plain: Server;
  let requests = 0;
  beforeAll(async () => {
    // Answers the client's TLS hello in plain HTTP: the handshake fails before any request is written.
    plain = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', (chunk: Buffer) => {
        if (chunk.toString('latin1').includes('HTTP/1.1')) requests++;
        socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n');
      });
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => plain.close(resolve));
  });

  it.each(adapters)('$name: is a transient CONNECTION_FAILED, and the message never reached the provider', async ({ server, adapter }) => {
    const err = await caught(adapter(`https://127.0.0.1:${(plain.address() as AddressInfo).port}`).send(server, message()));
    expect(requests).toBe(0);
    expect(err).toMatchObject({ code: DeliveryErrorCode.CONNECTION_FAILED, transient: true, transport: TransportKind.API });
    expect(neverReached(err)).toBe(true);
  });
});
