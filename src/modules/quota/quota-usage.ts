import type { QuotaWindowKind } from './quota-windows';
import type { QuotaUsage, QuotaWindowUsage } from './quota.types';

export interface ExhaustedWindow {
  window: QuotaWindowKind;
  resetsAt: Date;
  used: number;
  limit: number;
}

/**
 * The full window of a usage reading (used >= limit) that reopens last, or null when the
 * server can send: what routing shows as "hourly quota full until …" and what WAIT defers to.
 */
export function exhaustedWindow(usage: QuotaUsage): ExhaustedWindow | null {
  const windows: [QuotaWindowKind, QuotaWindowUsage][] = [
    ['HOURLY', usage.hourly],
    ['DAILY', usage.daily],
    ['MONTHLY', usage.monthly],
  ];
  let worst: ExhaustedWindow | null = null;
  for (const [window, w] of windows) {
    if (w.limit === null || w.used < w.limit) continue;
    if (!worst || w.resetsAt > worst.resetsAt) worst = { window, resetsAt: w.resetsAt, used: w.used, limit: w.limit };
  }
  return worst;
}
