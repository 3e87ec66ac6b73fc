import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseEeDate } from './elastic-email.adapter';

// PROVIDERS.md §5.5: the notification `date` is UTC; its exact format is unconfirmed.
const CASES: [string, string][] = [
  ['1/2/2026 3:04:05 PM', '2026-01-02T15:04:05.000Z'],
  ['12/31/2025 12:00:00 AM', '2025-12-31T00:00:00.000Z'],
  ['12/31/2025 12:30:00 PM', '2025-12-31T12:30:00.000Z'],
  ['7/4/2026 9:05 am', '2026-07-04T09:05:00.000Z'],
  ['7/4/2026 21:05:09', '2026-07-04T21:05:09.000Z'],
  ['2026-07-04 21:05:09', '2026-07-04T21:05:09.000Z'],
  ['2026-07-04T21:05:09.25', '2026-07-04T21:05:09.250Z'],
  ['2026-07-04T21:05:09+02:00', '2026-07-04T19:05:09.000Z'],
];

describe('parseEeDate (Elastic Email notification dates, UTC)', () => {
  it.each(CASES)('reads %s as %s', (value, expected) => {
    expect(parseEeDate(value).toISOString()).toBe(expected);
  });

  it('takes "now" for what it cannot read, out-of-range fields included (no roll-over into the next month)', () => {
    for (const value of [undefined, '', 'yesterday', '2/30/2026 1:00:00 PM', '2026-02-30 10:00:00']) {
      const before = Date.now();
      const at = parseEeDate(value).getTime();
      expect({ value, now: at >= before && at <= Date.now() }).toEqual({ value, now: true });
    }
  });

  // Jest's process runs in one zone (UTC here), where a local-time reading looks right: read the
  // same dates in processes whose zone is far from UTC.
  it.each(['America/New_York', 'Asia/Kolkata'])('reads the same instants on a server in %s', (zone) => {
    const script = `const { parseEeDate } = require(${JSON.stringify(join(__dirname, 'elastic-email.adapter'))});
      process.stdout.write(JSON.stringify(${JSON.stringify(CASES.map(([value]) => value))}.map((v) => parseEeDate(v).toISOString())));`;
    const out = execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
      cwd: join(__dirname, '../../..'),
      env: { ...process.env, TZ: zone },
      encoding: 'utf8',
    });
    expect(JSON.parse(out)).toEqual(CASES.map(([, expected]) => expected));
  });
});
