import { DeliveryProvider } from '../../providers/provider.enums';
import { MessageEventType } from '../messages/message.entity';
import { candidateIds, clipDetail, eventTypeOf, externalIdOf, isSparkPostPing, isUuid, mailgunSignature, providerForSlug, suppressionAddress } from './webhook-events';

describe('webhook event helpers', () => {
  it('maps path slugs to providers, never SMTP', () => {
    expect(providerForSlug('ses')).toBe(DeliveryProvider.AMAZON_SES);
    expect(providerForSlug('elasticemail')).toBe(DeliveryProvider.ELASTIC_EMAIL);
    expect(providerForSlug('smtp')).toBeNull();
    expect(providerForSlug('SES')).toBeNull();
    expect(providerForSlug('__proto__')).toBeNull();
  });

  it('recognises server ids', () => {
    expect(isUuid('549efbd5-8418-49c4-b918-4e14f2494692')).toBe(true);
    expect(isUuid("549efbd5-8418-49c4-b918-4e14f2494692' OR 1=1")).toBe(false);
  });

  it('lists stored-id candidates with and without brackets; SendGrid also before the first dot', () => {
    expect(candidateIds(DeliveryProvider.MAILGUN, '<20240101.123@mg.example.com>')).toEqual(['20240101.123@mg.example.com', '<20240101.123@mg.example.com>']);
    expect(candidateIds(DeliveryProvider.SENDGRID, '14c5d75ce93.dfd.64b469')).toEqual(['14c5d75ce93.dfd.64b469', '<14c5d75ce93.dfd.64b469>', '14c5d75ce93', '<14c5d75ce93>']);
    expect(candidateIds(DeliveryProvider.AMAZON_SES, null)).toEqual([]);
    expect(candidateIds(DeliveryProvider.AMAZON_SES, '<>')).toEqual([]);
  });

  it('maps every kind to a message event type', () => {
    expect(eventTypeOf('HARD_BOUNCE')).toBe(MessageEventType.HARD_BOUNCE);
    expect(eventTypeOf('DEFERRED')).toBe(MessageEventType.DEFERRED);
  });

  it('fits external ids and details into their columns', () => {
    expect(externalIdOf('abc')).toBe('abc');
    const long = externalIdOf('x'.repeat(400));
    expect(long).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(externalIdOf('x'.repeat(400))).toBe(long);
    expect(clipDetail('  ')).toBeNull();
    expect(clipDetail('d'.repeat(2000))).toHaveLength(1000);
  });

  it('suppresses the event recipient when it is an address, else the message To', () => {
    expect(suppressionAddress('Reader@Example.org', 'x@example.org')).toBe('reader@example.org');
    expect(suppressionAddress(null, 'Reader <Reader@Example.org>')).toBe('reader@example.org');
    expect(suppressionAddress('not an address', 'x@example.org')).toBe('x@example.org');
    expect(suppressionAddress(null, 'nobody')).toBeNull();
  });

  it("recognises only SparkPost's empty test ping", () => {
    expect(isSparkPostPing(Buffer.from('[{"msys":{}}]'))).toBe(true);
    expect(isSparkPostPing(Buffer.from('[]'))).toBe(false);
    expect(isSparkPostPing(Buffer.from('[{"msys":{"message_event":{}}}]'))).toBe(false);
    expect(isSparkPostPing(Buffer.from('[{"msys":'))).toBe(false);
  });

  it("reads Mailgun's signature (what a replay reuses) and timestamp", () => {
    expect(mailgunSignature(Buffer.from('{"signature":{"token":"t","timestamp":"1700000000","signature":"s"}}'))).toEqual({ signature: 's', timestamp: 1700000000 });
    expect(mailgunSignature(Buffer.from('{"signature":{"timestamp":"1"}}'))).toBeNull();
    expect(mailgunSignature(Buffer.from('{"signature":{"token":"t","timestamp":"1"}}'))).toBeNull();
  });
});
