import type { QuotaWindowKind } from './quota-windows';

/** Sends allowed per window; null = unlimited. */
export interface QuotaLimits {
  hourly: number | null;
  daily: number | null;
  monthly: number | null;
}

/** What quota needs to know about a delivery server: the caller reads it fresh each time. */
export interface QuotaSubject {
  serverId: string;
  /** The owner account's IANA zone; UTC for platform servers. */
  timezone: string;
  limits: QuotaLimits;
}

/**
 * One send counted in three windows. Plain data (JSON-safe apart from the Date), so a worker can
 * keep it with the job and release it later even after the clock has moved on.
 */
export interface QuotaReservation {
  id: string;
  serverId: string;
  /** The windows it was counted in: a release gives the unit back in exactly these. */
  windowIds: { hourly: string; daily: string; monthly: string };
  /** Which seeding of each counter it was counted in ('' for a counter seeded before generations existed). */
  generations?: { hourly: string; daily: string; monthly: string };
  /** After this every counter it touched has expired; a release then has nothing to do. */
  expiresAt: Date;
}

export type ReserveResult =
  | { ok: true; reservation: QuotaReservation }
  | {
      ok: false;
      /** The full window that reopens last: waiting for an earlier one would not help. */
      window: QuotaWindowKind;
      resetsAt: Date;
      limit: number;
      used: number;
    };

export interface QuotaWindowUsage {
  used: number;
  limit: number | null;
  /** null when unlimited; never negative (a lowered limit can leave used above it). */
  remaining: number | null;
  resetsAt: Date;
}

export interface QuotaUsage {
  timezone: string;
  hourly: QuotaWindowUsage;
  daily: QuotaWindowUsage;
  monthly: QuotaWindowUsage;
}
