import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { DeliveryError } from '../../src/providers/delivery-error';
import type { OutgoingMessage } from '../../src/providers/provider.types';
import type { ProvidersConfig } from '../../src/providers/providers.config';
import type { FailureMode } from '../fakes/fake-http-server';

/** The HTTP timeout of `config()`, for tests that time a silent provider. */
export const TIMEOUT_MS = 500;

/** Adapter config for tests against a fake: loopback allowed, short timeouts; `overrides` set the fake's URL. */
export function config(overrides: Partial<ProvidersConfig>): ProvidersConfig {
  return {
    allowPrivate: true,
    httpTimeoutMs: TIMEOUT_MS,
    smtpConnectionTimeoutMs: 1000,
    smtpGreetingTimeoutMs: 1000,
    smtpSocketTimeoutMs: 1000,
    ...overrides,
  };
}

/** A complete message with a unique subject (to find it at the fake); `overrides` change any field. */
export function message(overrides: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    from: 'Sender <sender@example.com>',
    to: 'to@example.org',
    subject: `hello ${randomUUID()}`,
    html: '<p>html</p>',
    text: 'plain',
    ...overrides,
  };
}

/** The DeliveryError `promise` rejects with; fails the test if it resolves or rejects with anything else. */
export async function caught(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DeliveryError) return err;
    throw new Error(`expected a DeliveryError, got ${String(err)}`);
  }
  throw new Error('expected the call to fail');
}

/** A port that was just free: nothing listens there. */
export async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const address = srv.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** What `serveFake` needs of a provider fake. */
export interface ProviderFake {
  start(): Promise<string>;
  stop(): Promise<void>;
  fail(mode: FailureMode): void;
}

/** Starts `fake` for the enclosing describe (handing its URL to `started`), stops it after, and lifts any scripted failure after each test. */
export function serveFake(fake: ProviderFake, started: (url: string) => void): void {
  beforeAll(async () => started(await fake.start()));
  afterAll(() => fake.stop());
  afterEach(() => fake.fail({ kind: 'none' }));
}
