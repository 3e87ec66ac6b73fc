/** Typed readings of the replies of RESERVE_LUA (see quota.lua.ts for their shapes). */
export type ReserveReply =
  | { kind: 'OK'; used: [number, number, number]; generations: [string, string, string] }
  | { kind: 'MISSING'; indexes: number[] }
  | { kind: 'FULL'; full: { index: number; used: number }[] };

export function parseReserveReply(reply: unknown): ReserveReply {
  if (!Array.isArray(reply) || typeof reply[0] !== 'string') throw new Error(`Unexpected quota script reply: ${JSON.stringify(reply)}`);
  // OK carries the three counters' generations (strings) after the three counts.
  const numbers = reply.slice(1, reply[0] === 'OK' ? 4 : undefined).map((v: unknown) => Number(v));
  if (numbers.some((n) => !Number.isFinite(n))) throw new Error(`Unexpected quota script reply: ${JSON.stringify(reply)}`);
  switch (reply[0]) {
    case 'OK': {
      const generations = reply.slice(4, 7).map((g: unknown) => (typeof g === 'string' ? g : ''));
      return { kind: 'OK', used: [numbers[0], numbers[1], numbers[2]], generations: [generations[0] ?? '', generations[1] ?? '', generations[2] ?? ''] };
    }
    // Lua indexes from 1; the service from 0.
    case 'MISSING':
      return { kind: 'MISSING', indexes: numbers.map((i) => i - 1) };
    case 'FULL': {
      const full: { index: number; used: number }[] = [];
      for (let i = 0; i + 1 < numbers.length; i += 2) full.push({ index: numbers[i] - 1, used: numbers[i + 1] });
      return { kind: 'FULL', full };
    }
    default:
      throw new Error(`Unexpected quota script reply: ${JSON.stringify(reply)}`);
  }
}
