import { quotaWindows, type QuotaWindowSpan, windowId } from './quota-windows';

const at = (iso: string): Date => new Date(iso);
/** [start, end] of a window as ISO strings, for compact expectations. */
const bounds = (w: QuotaWindowSpan): [string, string] => [w.start.toISOString(), w.end.toISOString()];
const hours = (w: QuotaWindowSpan): number => (w.end.getTime() - w.start.getTime()) / 3_600_000;

describe('quotaWindows', () => {
  it('UTC: plain hours, days and months', () => {
    const w = quotaWindows('UTC', at('2026-11-23T14:45:10.123Z'));
    expect(bounds(w.hourly)).toEqual(['2026-11-23T14:00:00.000Z', '2026-11-23T15:00:00.000Z']);
    expect(bounds(w.daily)).toEqual(['2026-11-23T00:00:00.000Z', '2026-11-24T00:00:00.000Z']);
    expect(bounds(w.monthly)).toEqual(['2026-11-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z']);
    expect([w.hourly.id, w.daily.id, w.monthly.id]).toEqual(['h:2026-11-23T14:00Z', 'd:2026-11-23T00:00Z', 'm:2026-11-01T00:00Z']);
  });

  it('a boundary instant belongs to the window it starts', () => {
    const w = quotaWindows('UTC', at('2026-11-23T15:00:00.000Z'));
    expect(w.hourly.start.toISOString()).toBe('2026-11-23T15:00:00.000Z');
    expect(quotaWindows('UTC', at('2026-11-23T14:59:59.999Z')).hourly.end.toISOString()).toBe('2026-11-23T15:00:00.000Z');
  });

  it('Asia/Kolkata (+05:30): the hour turns at :30 UTC, the day at 18:30 UTC', () => {
    const w = quotaWindows('Asia/Kolkata', at('2026-11-23T14:45:00Z'));
    expect(bounds(w.hourly)).toEqual(['2026-11-23T14:30:00.000Z', '2026-11-23T15:30:00.000Z']);
    expect(w.hourly.id).toBe('h:2026-11-23T14:30Z');
    expect(bounds(w.daily)).toEqual(['2026-11-22T18:30:00.000Z', '2026-11-23T18:30:00.000Z']);
    expect(bounds(w.monthly)).toEqual(['2026-10-31T18:30:00.000Z', '2026-11-30T18:30:00.000Z']);
    // Just before the half hour it is still the previous local hour.
    expect(bounds(quotaWindows('Asia/Kolkata', at('2026-11-23T14:29:59Z')).hourly)).toEqual(['2026-11-23T13:30:00.000Z', '2026-11-23T14:30:00.000Z']);
  });

  it('Asia/Kathmandu (+05:45): the hour turns at :15 UTC', () => {
    const w = quotaWindows('Asia/Kathmandu', at('2026-11-23T14:10:00Z'));
    expect(bounds(w.hourly)).toEqual(['2026-11-23T13:15:00.000Z', '2026-11-23T14:15:00.000Z']);
    expect(bounds(w.daily)).toEqual(['2026-11-22T18:15:00.000Z', '2026-11-23T18:15:00.000Z']);
    expect(bounds(w.monthly)).toEqual(['2026-10-31T18:15:00.000Z', '2026-11-30T18:15:00.000Z']);
  });

  describe('America/New_York DST', () => {
    it('2026-03-08 (spring forward) is a 23-hour day; 01:00 EST is followed by 03:00 EDT', () => {
      const before = quotaWindows('America/New_York', at('2026-03-08T06:30:00Z')); // 01:30 EST
      expect(bounds(before.daily)).toEqual(['2026-03-08T05:00:00.000Z', '2026-03-09T04:00:00.000Z']);
      expect(hours(before.daily)).toBe(23);
      expect(bounds(before.hourly)).toEqual(['2026-03-08T06:00:00.000Z', '2026-03-08T07:00:00.000Z']);
      const after = quotaWindows('America/New_York', at('2026-03-08T07:00:00Z')); // 03:00 EDT
      expect(bounds(after.hourly)).toEqual(['2026-03-08T07:00:00.000Z', '2026-03-08T08:00:00.000Z']);
      expect(after.daily.id).toBe(before.daily.id);
      // March is one hour short in UTC: it started in EST and ends in EDT.
      expect(bounds(after.monthly)).toEqual(['2026-03-01T05:00:00.000Z', '2026-04-01T04:00:00.000Z']);
    });

    it('2026-11-01 (fall back) is a 25-hour day; the repeated 01:00 hour is two one-hour windows', () => {
      const edt = quotaWindows('America/New_York', at('2026-11-01T05:30:00Z')); // 01:30 EDT
      const est = quotaWindows('America/New_York', at('2026-11-01T06:30:00Z')); // 01:30 EST
      expect(bounds(edt.hourly)).toEqual(['2026-11-01T05:00:00.000Z', '2026-11-01T06:00:00.000Z']);
      expect(bounds(est.hourly)).toEqual(['2026-11-01T06:00:00.000Z', '2026-11-01T07:00:00.000Z']);
      expect(edt.hourly.id).not.toBe(est.hourly.id);
      expect(bounds(est.daily)).toEqual(['2026-11-01T04:00:00.000Z', '2026-11-02T05:00:00.000Z']);
      expect(hours(est.daily)).toBe(25);
      expect(edt.daily.id).toBe(est.daily.id);
    });
  });

  describe('Australia/Lord_Howe (30-minute DST shift)', () => {
    it('2026-10-04 spring forward 02:00 -> 02:30: a 30-minute hour and a 23.5-hour day', () => {
      const before = quotaWindows('Australia/Lord_Howe', at('2026-10-03T15:10:00Z')); // 01:40 +10:30
      expect(bounds(before.hourly)).toEqual(['2026-10-03T14:30:00.000Z', '2026-10-03T15:30:00.000Z']);
      const short = quotaWindows('Australia/Lord_Howe', at('2026-10-03T15:40:00Z')); // 02:40 +11
      expect(bounds(short.hourly)).toEqual(['2026-10-03T15:30:00.000Z', '2026-10-03T16:00:00.000Z']);
      expect(bounds(short.daily)).toEqual(['2026-10-03T13:30:00.000Z', '2026-10-04T13:00:00.000Z']);
      expect(hours(short.daily)).toBe(23.5);
    });

    it('2026-04-05 fall back 02:00 -> 01:30: the repeated half hour is its own window; a 24.5-hour day', () => {
      const first = quotaWindows('Australia/Lord_Howe', at('2026-04-04T14:40:00Z')); // 01:40 +11
      expect(bounds(first.hourly)).toEqual(['2026-04-04T14:00:00.000Z', '2026-04-04T15:00:00.000Z']);
      const repeat = quotaWindows('Australia/Lord_Howe', at('2026-04-04T15:10:00Z')); // 01:40 +10:30
      expect(bounds(repeat.hourly)).toEqual(['2026-04-04T15:00:00.000Z', '2026-04-04T15:30:00.000Z']);
      const next = quotaWindows('Australia/Lord_Howe', at('2026-04-04T15:30:00Z')); // 02:00 +10:30
      expect(bounds(next.hourly)).toEqual(['2026-04-04T15:30:00.000Z', '2026-04-04T16:30:00.000Z']);
      expect(bounds(repeat.daily)).toEqual(['2026-04-04T13:00:00.000Z', '2026-04-05T13:30:00.000Z']);
      expect(hours(repeat.daily)).toBe(24.5);
    });
  });

  it('a zone whose midnight is skipped starts the day at the transition (America/Santiago 2026-09-06)', () => {
    const w = quotaWindows('America/Santiago', at('2026-09-06T12:00:00Z'));
    // 00:00 -04 never happens: the clock jumps to 01:00 -03 at 04:00 UTC.
    expect(bounds(w.daily)).toEqual(['2026-09-06T04:00:00.000Z', '2026-09-07T03:00:00.000Z']);
    expect(bounds(quotaWindows('America/Santiago', at('2026-09-06T03:59:59Z')).daily)).toEqual([
      '2026-09-05T04:00:00.000Z',
      '2026-09-06T04:00:00.000Z',
    ]);
  });

  it('a zone whose midnight comes twice keeps one day and one month from the first (America/Havana 2026-11-01, Atlantic/Azores 2026-10-25)', () => {
    // Havana falls back from 01:00 -04 to 00:00 -05 at 05:00 UTC: the 1st began at 04:00 UTC, and
    // the second 00:xx hour is still the 1st (and still November), not a day or a month of its own.
    const havana = quotaWindows('America/Havana', at('2026-11-01T05:30:00Z'));
    expect(bounds(havana.daily)).toEqual(['2026-11-01T04:00:00.000Z', '2026-11-02T05:00:00.000Z']);
    expect(bounds(havana.monthly)).toEqual(['2026-11-01T04:00:00.000Z', '2026-12-01T05:00:00.000Z']);
    const azores = quotaWindows('Atlantic/Azores', at('2026-10-25T01:30:00Z'));
    expect(bounds(azores.daily)).toEqual(['2026-10-25T00:00:00.000Z', '2026-10-26T01:00:00.000Z']);
  });

  describe('month ends', () => {
    it('Jan 31 rolls to Feb 1', () => {
      const w = quotaWindows('UTC', at('2026-01-31T23:59:59.999Z'));
      expect(bounds(w.monthly)).toEqual(['2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z']);
      expect(bounds(w.daily)).toEqual(['2026-01-31T00:00:00.000Z', '2026-02-01T00:00:00.000Z']);
    });

    it('February has 28 days in 2026 and 29 in 2028', () => {
      expect(bounds(quotaWindows('UTC', at('2026-02-28T12:00:00Z')).monthly)).toEqual(['2026-02-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z']);
      expect(bounds(quotaWindows('UTC', at('2028-02-29T12:00:00Z')).daily)).toEqual(['2028-02-29T00:00:00.000Z', '2028-03-01T00:00:00.000Z']);
      expect(bounds(quotaWindows('UTC', at('2028-02-29T12:00:00Z')).monthly)).toEqual(['2028-02-01T00:00:00.000Z', '2028-03-01T00:00:00.000Z']);
    });

    it('the local 1st: Jan 31 evening UTC is already February in Kolkata', () => {
      const w = quotaWindows('Asia/Kolkata', at('2026-01-31T19:00:00Z')); // Feb 1, 00:30 IST
      expect(bounds(w.monthly)).toEqual(['2026-01-31T18:30:00.000Z', '2026-02-28T18:30:00.000Z']);
    });
  });

  it('a timezone change mid-window moves the count to the new zone windows (new ids)', () => {
    const now = at('2026-11-23T14:45:00Z');
    const utc = quotaWindows('UTC', now);
    const kolkata = quotaWindows('Asia/Kolkata', now);
    expect(kolkata.hourly.id).not.toBe(utc.hourly.id);
    expect(kolkata.daily.id).not.toBe(utc.daily.id);
    expect(kolkata.monthly.id).not.toBe(utc.monthly.id);
    // The same zone gives the same ids anywhere inside the window.
    expect(quotaWindows('Asia/Kolkata', at('2026-11-23T15:29:59Z')).hourly.id).toBe(kolkata.hourly.id);
    // Zones with identical boundaries share the window (same start instant): counting carries over.
    expect(quotaWindows('Europe/London', now).daily.id).toBe(utc.daily.id);
  });

  it('windows tile the timeline around every DST change of awkward zones (contain the instant, no gaps, no overlaps)', () => {
    const transitions: [string, string][] = [
      ['America/New_York', '2026-03-08T07:00:00Z'],
      ['America/New_York', '2026-11-01T06:00:00Z'],
      ['Australia/Lord_Howe', '2026-04-04T15:00:00Z'],
      ['Australia/Lord_Howe', '2026-10-03T15:30:00Z'],
      ['America/Santiago', '2026-04-05T03:00:00Z'],
      ['America/Santiago', '2026-09-06T04:00:00Z'],
      ['Pacific/Chatham', '2026-04-04T14:00:00Z'],
      ['Asia/Kathmandu', '2026-12-31T18:15:00Z'],
      ['America/Havana', '2026-11-01T05:00:00Z'],
      ['Atlantic/Azores', '2026-10-25T01:00:00Z'],
    ];
    const problems: string[] = [];
    for (const [zone, iso] of transitions) {
      const centre = Date.parse(iso);
      let previous = quotaWindows(zone, new Date(centre - 36 * 3_600_000));
      // 13-minute steps: shorter than the shortest window (30 min), so none is skipped.
      for (let t = centre - 36 * 3_600_000; t <= centre + 36 * 3_600_000; t += 13 * 60_000) {
        const current = quotaWindows(zone, new Date(t));
        for (const key of ['hourly', 'daily', 'monthly'] as const) {
          const [w, p] = [current[key], previous[key]];
          if (w.start.getTime() > t || w.end.getTime() <= t) problems.push(`${zone} ${new Date(t).toISOString()} ${key} ${bounds(w).join('..')}`);
          if (w.id !== p.id && w.start.getTime() !== p.end.getTime()) problems.push(`${zone} ${key} gap/overlap ${bounds(p).join('..')} -> ${bounds(w).join('..')}`);
          if (w.id === p.id && w.end.getTime() !== p.end.getTime()) problems.push(`${zone} ${key} ${w.id} changed its end`);
        }
        previous = current;
      }
    }
    expect(problems).toEqual([]);
  });

  it('refuses a zone that is not IANA', () => {
    expect(() => quotaWindows('Mars/Olympus', new Date())).toThrow(/not a valid IANA time zone/);
  });

  it('windowId keeps minutes, or the full instant when a boundary is not on a minute', () => {
    expect(windowId('DAILY', at('2026-11-22T18:30:00Z'))).toBe('d:2026-11-22T18:30Z');
    expect(windowId('HOURLY', at('2026-11-22T18:30:05Z'))).toBe('h:2026-11-22T18:30:05.000Z');
  });
});
