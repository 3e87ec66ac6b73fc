import { DeliveryProvider } from '../../providers/provider.enums';
import { DeliveryServerStatus, ServerOrigin, type DeliveryServerEntity } from '../delivery-servers/delivery-server.entity';
import { describeBlock, rankCandidates, RouteVia } from './candidate-ranking';

let seq = 0;
function server(over: Partial<DeliveryServerEntity>): DeliveryServerEntity {
  seq++;
  return {
    id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    accountId: null,
    name: `S${seq}`,
    provider: DeliveryProvider.SMTP,
    origin: ServerOrigin.DELIVERY_SERVER,
    status: DeliveryServerStatus.ACTIVE,
    sendingDomain: null,
    senderAddress: null,
    testEmail: null,
    isDefaultForAccount: false,
    isDefaultForSubAccounts: false,
    pausedReason: null,
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)),
    ...over,
  } as DeliveryServerEntity;
}

describe('rankCandidates', () => {
  const account = { id: 'sub', parentId: 'agency', customSmtpEnabled: false, agencyCustomSmtpEnabled: false };

  it('orders by rank, then domain-pinned first, then oldest; ignores servers that are not candidates', () => {
    const platform = server({});
    const ownAny = server({ accountId: 'sub' });
    const ownPinned = server({ accountId: 'sub', sendingDomain: 'brand.example' });
    const agencyDefault = server({ accountId: 'agency', isDefaultForSubAccounts: true });
    const agencyPlain = server({ accountId: 'agency' });
    const assigned = server({ accountId: 'agency' });
    const ranked = rankCandidates([platform, ownAny, ownPinned, agencyDefault, agencyPlain, assigned], account, new Set([assigned.id]), 'brand.example');
    expect(ranked.map((c) => [c.server.id, c.via, c.rank])).toEqual([
      [assigned.id, RouteVia.ASSIGNED, 1],
      [agencyDefault.id, RouteVia.AGENCY_DEFAULT, 2],
      [ownPinned.id, RouteVia.ACCOUNT_SERVER, 3],
      [ownAny.id, RouteVia.ACCOUNT_SERVER, 4],
      [platform.id, RouteVia.PLATFORM, 5],
    ]);
  });

  it('gives a reason a person understands for each ineligible server', () => {
    const paused = server({ accountId: 'sub', status: DeliveryServerStatus.PAUSED });
    const pausedByChange = server({ accountId: 'sub', status: DeliveryServerStatus.PAUSED, pausedReason: 'Credentials changed' });
    const other = server({ accountId: 'sub', sendingDomain: 'example.org' });
    const custom = server({ accountId: 'sub', origin: ServerOrigin.CUSTOM_SMTP });
    // Another owner's reason is not shown: it may quote traffic of other accounts.
    const agencyPaused = server({ accountId: 'agency', isDefaultForSubAccounts: true, status: DeliveryServerStatus.PAUSED, pausedReason: 'complaint rate 5% (50 of 1000 messages)' });
    const platformPaused = server({ status: DeliveryServerStatus.PAUSED, pausedReason: 'complaint rate 2% (200 of 10000 messages)' });
    const ranked = rankCandidates([paused, pausedByChange, other, custom, agencyPaused, platformPaused], account, new Set(), 'brand.example');
    expect(Object.fromEntries(ranked.map((c) => [c.server.id, c.reason]))).toEqual({
      [paused.id]: 'paused',
      [pausedByChange.id]: 'paused: Credentials changed',
      [other.id]: 'sends only for example.org',
      [custom.id]: 'the Custom SMTP add-on is off for this account',
      [agencyPaused.id]: 'paused',
      [platformPaused.id]: 'paused',
    });
    expect(ranked.every((c) => !c.allowed)).toBe(true);
  });

  it("judges a custom SMTP by its owner's add-on: the agency's, for one the agency owns", () => {
    const own = server({ accountId: 'sub', origin: ServerOrigin.CUSTOM_SMTP });
    const agencys = server({ accountId: 'agency', origin: ServerOrigin.CUSTOM_SMTP, isDefaultForSubAccounts: true });
    const allowed = (flags: { customSmtpEnabled: boolean; agencyCustomSmtpEnabled: boolean }) =>
      Object.fromEntries(rankCandidates([own, agencys], { ...account, ...flags }, new Set(), 'brand.example').map((c) => [c.server.id, c.reason ?? 'allowed']));
    // The sub-account has the add-on of its own; the agency lost it: the agency's custom SMTP routes nothing.
    expect(allowed({ customSmtpEnabled: true, agencyCustomSmtpEnabled: false })).toEqual({
      [own.id]: 'allowed',
      [agencys.id]: 'the Custom SMTP add-on is off for the agency that owns it',
    });
    // The agency's add-on covers its sub-accounts' own custom SMTPs too.
    expect(allowed({ customSmtpEnabled: true, agencyCustomSmtpEnabled: true })).toEqual({ [own.id]: 'allowed', [agencys.id]: 'allowed' });
  });
});

describe('describeBlock', () => {
  it('names the window and its reset in the owner zone, with the date when it is not today there', () => {
    const dailyReset = new Date('2026-11-23T18:30:00.000Z');
    expect(describeBlock({ window: 'DAILY', resetsAt: dailyReset }, 'Asia/Kolkata', new Date('2026-11-23T09:00:00.000Z'))).toBe('daily quota full until 24 Nov 00:00 Asia/Kolkata');
    expect(describeBlock({ window: 'HOURLY', resetsAt: new Date('2026-11-23T09:00:00.000Z') }, 'Asia/Kolkata', new Date('2026-11-23T08:45:00.000Z'))).toBe(
      'hourly quota full until 14:30 Asia/Kolkata',
    );
  });
});
