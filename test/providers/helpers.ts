import { randomUUID } from 'node:crypto';
import { DeliveryError } from '../../src/providers/delivery-error';
import type { OutgoingMessage } from '../../src/providers/provider.types';
import type { ProvidersConfig } from '../../src/providers/providers.config';
import type { FailureMode } from '../fakes/fake-http-server';
import { freePort } from '../utils/free-port';

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

/**
 * A port nothing listens on. From below the ephemeral range (freePort), where other tests'
 * listen(0) servers never land, so the connection stays refused.
 */
export const closedPort = freePort;

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
