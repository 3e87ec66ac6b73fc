import { DeliveryErrorCode } from '../provider.enums';
import { DeliveryError } from '../delivery-error';
import { blockedReason, checkSmtpDestination, type LookupFn } from './outbound-guard';

const production = { allowPrivate: false, smtpConnectionTimeoutMs: 2_000 };
const development = { allowPrivate: true, smtpConnectionTimeoutMs: 2_000 };

async function refusal(host: string, lookup?: LookupFn): Promise<DeliveryError> {
  const err: unknown = await checkSmtpDestination(host, production, lookup).then(
    () => new Error(`expected ${host} to be refused`),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DeliveryError);
  return err as DeliveryError;
}

describe('checkSmtpDestination (outbound guard)', () => {
  it.each(['127.0.0.1', '10.0.0.1', '169.254.169.254', '[::1]', '::1', '172.16.4.2', '192.168.1.10', '100.64.0.1', '0.0.0.0', 'fe80::1', 'fd00:ec2::254', '::ffff:10.0.0.1'])(
    'refuses %s in production mode',
    async (host) => {
      const err = await refusal(host);
      expect(err.code).toBe(DeliveryErrorCode.BLOCKED_DESTINATION);
      expect(err.transient).toBe(false);
      expect(err.isServerSide).toBe(false);
    },
  );

  it('refuses localhost after resolving it', async () => {
    const err = await refusal('localhost');
    expect(err.code).toBe(DeliveryErrorCode.BLOCKED_DESTINATION);
    expect(err.message).toContain('localhost');
  });

  it('refuses a name when any of its addresses is internal (no picking the public one later)', async () => {
    const lookup: LookupFn = () => Promise.resolve([{ address: '93.184.216.34', family: 4 }, { address: '10.1.2.3', family: 4 }]);
    const err = await refusal('mixed.example', lookup);
    expect(err.code).toBe(DeliveryErrorCode.BLOCKED_DESTINATION);
    // Named, without the internal address it resolves to (which would map internal names for anyone).
    expect(err.message).toBe('SMTP host "mixed.example" resolves to a private network address; connections to internal networks are not allowed');
  });

  it('returns the checked address and keeps the name for TLS', async () => {
    const lookup: LookupFn = () => Promise.resolve([{ address: '93.184.216.34', family: 4 }]);
    await expect(checkSmtpDestination('smtp.example.com', production, lookup)).resolves.toEqual({
      address: '93.184.216.34',
      family: 4,
      servername: 'smtp.example.com',
    });
  });

  it('lets an IP literal through without DNS and without a servername', async () => {
    const lookup: LookupFn = () => Promise.reject(new Error('DNS must not be used for a literal'));
    await expect(checkSmtpDestination('[2001:4860::1]', production, lookup)).resolves.toEqual({ address: '2001:4860::1', family: 6, servername: undefined });
  });

  it('allows loopback when allowPrivate is set (tests, local relays)', async () => {
    await expect(checkSmtpDestination('127.0.0.1', development)).resolves.toMatchObject({ address: '127.0.0.1' });
  });

  it('reports a DNS failure as CONNECTION_FAILED at step DNS', async () => {
    const lookup: LookupFn = () => Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND nope.invalid'), { code: 'ENOTFOUND' }));
    const err = await refusal('nope.invalid', lookup);
    expect(err.code).toBe(DeliveryErrorCode.CONNECTION_FAILED);
    expect(err.smtpStep).toBe('DNS');
  });

  it('bounds a resolver that never answers', async () => {
    const lookup: LookupFn = () => new Promise(() => undefined);
    const started = Date.now();
    const err: unknown = await checkSmtpDestination('slow.example', { allowPrivate: false, smtpConnectionTimeoutMs: 200 }, lookup).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).smtpStep).toBe('DNS');
    expect((err as DeliveryError).transient).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('classifies NAT64 addresses by the IPv4 they embed', () => {
    expect(blockedReason('64:ff9b::a00:1')).toMatch(/private/);
    expect(blockedReason('64:ff9b::808:808')).toBeNull();
    expect(blockedReason('8.8.8.8')).toBeNull();
  });
});
