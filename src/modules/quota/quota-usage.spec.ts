import { exhaustedWindow } from './quota-usage';
import type { QuotaUsage, QuotaWindowUsage } from './quota.types';

const w = (used: number, limit: number | null, resetsAt: string): QuotaWindowUsage => ({
  used,
  limit,
  remaining: limit === null ? null : Math.max(0, limit - used),
  resetsAt: new Date(resetsAt),
});

describe('exhaustedWindow', () => {
  const hour = '2026-11-23T15:30:00.000Z';
  const day = '2026-11-23T18:30:00.000Z';
  const month = '2026-11-30T18:30:00.000Z';
  const usage = (hourly: QuotaWindowUsage, daily: QuotaWindowUsage, monthly: QuotaWindowUsage): QuotaUsage => ({ timezone: 'Asia/Kolkata', hourly, daily, monthly });

  it('null while every window has room or no limit', () => {
    expect(exhaustedWindow(usage(w(9, 10, hour), w(9, null, day), w(0, 100, month)))).toBeNull();
  });

  it('the full window, or the one that reopens last when several are full', () => {
    expect(exhaustedWindow(usage(w(10, 10, hour), w(10, 50, day), w(10, null, month)))).toEqual({ window: 'HOURLY', resetsAt: new Date(hour), used: 10, limit: 10 });
    expect(exhaustedWindow(usage(w(10, 10, hour), w(10, 10, day), w(10, null, month)))).toMatchObject({ window: 'DAILY', resetsAt: new Date(day) });
  });

  it('a lowered limit below the count is full too', () => {
    expect(exhaustedWindow(usage(w(12, 5, hour), w(12, null, day), w(12, null, month)))).toMatchObject({ window: 'HOURLY', used: 12, limit: 5 });
  });
});
