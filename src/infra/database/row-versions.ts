import { createHash } from 'node:crypto';

/**
 * A fingerprint of a set of row versions, each given as `key:xmin` (its primary key and the
 * transaction that wrote it). Every committed INSERT or UPDATE writes a row version with a new
 * xmin and a DELETE takes one away, so the fingerprint of what a query reads changes whenever
 * anything it would show does; rows one statement wrote share an xmin, hence the key. Worked out
 * here over rows a query actually read, or by PostgreSQL (rowVersionsSql) when only the
 * fingerprint is wanted: both give the same text for the same rows.
 */
export function rowVersions(pairs: readonly string[]): string {
  // Sorted by code unit, as "C" collation sorts these ASCII strings.
  return `${pairs.length}:${createHash('md5').update([...pairs].sort().join(',')).digest('hex')}`;
}

/** The select list that makes PostgreSQL work out rowVersions over `pair` (a text expression) of every row; read it with rowVersionsFrom. */
export const rowVersionsSql = (pair: string): string => `count(*)::int AS n, md5(coalesce(string_agg(${pair}, ',' ORDER BY ${pair} COLLATE "C"), '')) AS versions`;

export const rowVersionsFrom = (row: { n: number; versions: string }): string => `${row.n}:${row.versions}`;
