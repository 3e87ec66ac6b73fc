import { badInput } from './mock-errors';

/** As the real API: `first` defaults to 50 and may be 1..500 (CONTRACT.md section 4). */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: number;
}

interface Cursor {
  createdAt: string;
  key: string;
}

/** The real API's cursor: base64url JSON of the row's createdAt and tie-breaker. Opaque to clients. */
const encode = (cursor: Cursor): string => Buffer.from(JSON.stringify(cursor)).toString('base64url');

function decode(after: string): Cursor {
  try {
    const parsed = JSON.parse(Buffer.from(after, 'base64url').toString('utf8')) as Partial<Cursor>;
    if (typeof parsed.createdAt === 'string' && typeof parsed.key === 'string') return { createdAt: parsed.createdAt, key: parsed.key };
  } catch {
    // refused below
  }
  throw badInput('after', 'is not a cursor this API returned');
}

const newerFirst = (a: Cursor, b: Cursor): number => (a.createdAt === b.createdAt ? (a.key < b.key ? 1 : a.key > b.key ? -1 : 0) : a.createdAt < b.createdAt ? 1 : -1);

/**
 * Newest first (createdAt, then `keyOf`, the id by default), keyset-paginated like the real
 * API: a cursor names a position, not an offset, so it stays valid while rows are added.
 * totalCount counts every row matching the filters, not only those after the cursor.
 */
export function paginate<T extends { createdAt: string }>(rows: T[], args: PageArgs, keyOf: (row: T) => string = (row) => (row as T & { id: string }).id): Connection<T> {
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) throw badInput('first', `must be between 1 and ${MAX_PAGE_SIZE}`);
  const cursorOf = (row: T): Cursor => ({ createdAt: row.createdAt, key: keyOf(row) });
  const sorted = [...rows].sort((a, b) => newerFirst(cursorOf(a), cursorOf(b)));
  const from = args.after ? decode(args.after) : null;
  const rest = from ? sorted.filter((row) => newerFirst(cursorOf(row), from) > 0) : sorted;
  const edges = rest.slice(0, first).map((node) => ({ cursor: encode(cursorOf(node)), node }));
  return { edges, pageInfo: { hasNextPage: rest.length > first, endCursor: edges.at(-1)?.cursor ?? null }, totalCount: rows.length };
}
