import { Logger, type LoggerService } from '@nestjs/common';
import { DeliveryProvider, type TransportKind } from './provider.enums';
import { ProviderGateway } from './provider-gateway';
import type { ProviderAdapter, ProviderServer } from './provider.types';
import { SmtpTransport } from './smtp/smtp-transport';

describe('ProviderGateway', () => {
  const logged: unknown[][] = [];
  const capture: LoggerService = { log: () => undefined, warn: () => undefined, error: (...args: unknown[]) => logged.push(args) };
  beforeAll(() => Logger.overrideLogger(capture));
  afterAll(() => Logger.overrideLogger(false));

  it('masks an error no adapter classified, and logs its text under the id it shows', async () => {
    // An adapter with a bug: it throws a raw TypeError instead of a DeliveryError.
    const buggy = { provider: DeliveryProvider.SENDGRID, send: () => Promise.reject(new TypeError("Cannot read properties of undefined (reading 'headers')")) } as unknown as ProviderAdapter;
    const gateway = new ProviderGateway([buggy], new SmtpTransport({} as never));
    const server = { id: 'srv', provider: DeliveryProvider.SENDGRID, credentials: { sendgrid: { apiKey: 'SG.key' } } } as unknown as ProviderServer;
    const err = await gateway.send(server, { from: 'a@b.example', to: 'c@d.example', subject: 's', text: 't' }).then(
      () => null,
      (e: unknown) => e as Error & { transport?: TransportKind },
    );
    const id = /\(error id ([0-9a-f-]{36})\)$/.exec(err?.message ?? '')?.[1];
    expect(err?.message).toMatch(/^Unexpected failure in the API transport/);
    expect(err?.message).not.toContain('headers');
    expect(id).toBeDefined();
    expect(logged).toContainEqual([
      { errorId: id, err: { name: 'TypeError', message: "Cannot read properties of undefined (reading 'headers')" } },
      'Unexpected failure in the API transport',
      'ProviderGateway',
    ]);
  });
});
