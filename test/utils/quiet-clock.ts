import { quotaWindows, type QuotaWindows } from '../../src/modules/quota/quota-windows';
import { waitFor } from './wait-for';

/**
 * Quota windows turn with the wall clock (an hour, a day, a month on an account's clock). A test
 * that fills a window and then asserts that it is full (used counts, DEFERRED to the reset) fails
 * if the window turns in between: these keep such tests away from a turn.
 */
export type WindowUnit = 'hour' | 'day' | 'month';

/** How long a test that fills a window has, at least, to see it full. */
export const TURN_MARGIN_MS = 60_000;

const WINDOW: Record<WindowUnit, keyof QuotaWindows> = { hour: 'hourly', day: 'daily', month: 'monthly' };

/** When the `unit` window that holds `now` ends on the clock of `timezone`: the app's own quota window. */
export function nextTurn(timezone: string, unit: WindowUnit = 'hour', now: Date = new Date()): Date {
  return quotaWindows(timezone, now)[WINDOW[unit]].end;
}

/**
 * Waits, when needed, until the `unit` window of every clock of `timezones` has at least `marginMs`
 * left: for a test whose point is the clock (e.g. India's half-hour offset). A day or a month
 * turns only when an hour does, so 'hour' keeps a test away from those too. Add up to
 * `marginMs` per clock to the test's time-out.
 */
export async function awayFromTurn(timezones: string[], unit: WindowUnit = 'hour', marginMs = TURN_MARGIN_MS): Promise<void> {
  await waitFor(
    `${marginMs} ms or more before the next ${unit} turns in ${timezones.join(', ')}`,
    () => Promise.resolve(timezones.every((timezone) => nextTurn(timezone, unit).getTime() - Date.now() >= marginMs)),
    marginMs * timezones.length + 5_000,
    250,
  );
}

/**
 * A clock (IANA zone) whose hour does not turn within `marginMs` (ten minutes unless told), and
 * when that hour ends: for a test of an hourly quota that does not care which clock it runs on.
 * UTC, or India's (its hours turn at :30 UTC) near the top of the UTC hour: one of the two is
 * always at least a quarter of an hour from its turn, so this never waits.
 */
export function quietHour(now: Date = new Date(), marginMs = 10 * 60_000): { timezone: string; resetsAt: Date } {
  for (const timezone of ['UTC', 'Asia/Kolkata']) {
    const resetsAt = nextTurn(timezone, 'hour', now);
    if (resetsAt.getTime() - now.getTime() >= marginMs) return { timezone, resetsAt };
  }
  throw new RangeError(`no clock is ${marginMs} ms from the end of its hour: use a margin of 15 minutes at most`);
}
