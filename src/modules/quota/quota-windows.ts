import { DateTime, IANAZone } from 'luxon';

/** The three calendar windows every send is counted in (CONTRACT.md §4 "Quota and pacing"). */
export type QuotaWindowKind = 'HOURLY' | 'DAILY' | 'MONTHLY';

export const QUOTA_WINDOW_KINDS: readonly QuotaWindowKind[] = ['HOURLY', 'DAILY', 'MONTHLY'];

/** One window on the account's clock, expressed in UTC instants: [start, end). */
export interface QuotaWindowSpan {
  kind: QuotaWindowKind;
  /**
   * Stable name of the window, from its UTC start (`h:2026-11-23T14:30Z`). It goes into the
   * Redis key, so the same instant under another zone is another window: a timezone change
   * starts counting in the new zone's window at the next reservation.
   */
  id: string;
  start: Date;
  /** The next boundary: when this window resets (`usage.*.resetsAt`). */
  end: Date;
}

export interface QuotaWindows {
  hourly: QuotaWindowSpan;
  daily: QuotaWindowSpan;
  monthly: QuotaWindowSpan;
}

const HOUR_MS = 3_600_000;
const ID_PREFIX: Record<QuotaWindowKind, string> = { HOURLY: 'h', DAILY: 'd', MONTHLY: 'm' };

/**
 * The last windows computed per zone. luxon's zone arithmetic costs a few hundred microseconds
 * (Intl under the hood) and every reservation needs the windows; they change once an hour.
 */
const recent = new Map<string, QuotaWindows>();
const RECENT_MAX = 1_000;

/** The hourly, daily and monthly windows that contain `at` on the clock of `timezone`. */
export function quotaWindows(timezone: string, at: Date): QuotaWindows {
  const t = at.getTime();
  const cached = recent.get(timezone);
  if (cached && Object.values(cached).every((w: QuotaWindowSpan) => w.start.getTime() <= t && t < w.end.getTime())) return copy(cached);
  const zone = zoneOf(timezone);
  const windows: QuotaWindows = {
    hourly: span('HOURLY', hourBounds(zone, t)),
    daily: span('DAILY', calendarBounds(zone, t, 'day')),
    monthly: span('MONTHLY', calendarBounds(zone, t, 'month')),
  };
  if (recent.size >= RECENT_MAX) recent.clear();
  recent.set(timezone, windows);
  return copy(windows);
}

/** Callers get their own Date objects, so mutating one never corrupts the cache. */
function copy(w: QuotaWindows): QuotaWindows {
  const one = (s: QuotaWindowSpan): QuotaWindowSpan => ({ ...s, start: new Date(s.start), end: new Date(s.end) });
  return { hourly: one(w.hourly), daily: one(w.daily), monthly: one(w.monthly) };
}

export function windowId(kind: QuotaWindowKind, start: Date): string {
  const iso = start.toISOString();
  // Minutes are enough for every boundary of the current tz database; keep more only if needed.
  const stamp = start.getUTCSeconds() === 0 && start.getUTCMilliseconds() === 0 ? `${iso.slice(0, 16)}Z` : iso;
  return `${ID_PREFIX[kind]}:${stamp}`;
}

function zoneOf(timezone: string): IANAZone {
  const zone = IANAZone.create(timezone);
  if (!zone.isValid) throw new RangeError(`"${timezone}" is not a valid IANA time zone`);
  return zone;
}

function span(kind: QuotaWindowKind, [start, end]: [number, number]): QuotaWindowSpan {
  const startDate = new Date(start);
  return { kind, id: windowId(kind, startDate), start: startDate, end: new Date(end) };
}

/**
 * The local hour around `t`. A boundary is every instant the wall clock shows HH:00, and every
 * offset change (the clock jumps): so New York's repeated 01:00 hour in November is two
 * one-hour windows, and Lord Howe's half-hour shifts give a 30-minute window instead of a
 * 90-minute one. luxon's startOf('hour') cannot be used as is: on a half-hour fall-back it
 * resolves the ambiguous local 01:00 to the earlier offset, before the clock went back.
 */
function hourBounds(zone: IANAZone, t: number): [number, number] {
  const offset = zone.offset(t);
  const msIntoHour = mod(t + offset * 60_000, HOUR_MS);
  const top = t - msIntoHour;
  const nextTop = top + HOUR_MS;
  const start = zone.offset(top) === offset ? top : firstOffsetChange(zone, top, t);
  const end = zone.offset(nextTop) === offset ? nextTop : firstOffsetChange(zone, t, nextTop);
  return [start, end];
}

/**
 * Local midnight or the local 1st, with luxon's calendar arithmetic: 23- and 25-hour days, and
 * zones whose midnight is skipped (America/Santiago, America/Havana: the day starts at the
 * 01:00 the clock jumps to, which luxon resolves to the transition instant), or shown twice.
 */
function calendarBounds(zone: IANAZone, t: number, unit: 'day' | 'month'): [number, number] {
  const startOf = (ms: number): DateTime => DateTime.fromMillis(ms, { zone }).startOf(unit);
  let start = startOf(t);
  let end = start.plus(unit === 'day' ? { days: 1 } : { months: 1 }).startOf(unit);
  // A fall-back across midnight repeats the previous day's last hour after the new day began;
  // that hour stays in the day that had already started, so windows never go backwards.
  for (let guard = 0; end.toMillis() <= t && guard < 3; guard++) {
    start = end;
    end = start.plus(unit === 'day' ? { days: 1 } : { months: 1 }).startOf(unit);
  }
  // A fall-back from 01:00 to 00:00 shows midnight twice (America/Havana, Atlantic/Azores), and
  // startOf keeps the offset it is given: from the second 00:xx hour it finds the second
  // midnight. The day (and month) began at the first one, which the instant before still shows.
  for (let guard = 0; guard < 3; guard++) {
    const before = DateTime.fromMillis(start.toMillis() - 1, { zone });
    // Compared by the wall-clock fields: luxon's hasSame goes through startOf, which is what errs here.
    const same = before.year === start.year && before.month === start.month && (unit === 'month' || before.day === start.day);
    if (!same) break;
    start = before.startOf(unit);
  }
  return [start.toMillis(), end.toMillis()];
}

/** The first instant in (from, to] whose offset differs from the one at `from` (to the ms). */
function firstOffsetChange(zone: IANAZone, from: number, to: number): number {
  const before = zone.offset(from);
  let lo = from;
  let hi = to;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (zone.offset(mid) === before) lo = mid;
    else hi = mid;
  }
  return hi;
}

function mod(value: number, divisor: number): number {
  return ((value % divisor) + divisor) % divisor;
}
