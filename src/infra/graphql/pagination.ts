import { Field, type FieldMiddleware, Int, ObjectType } from '@nestjs/graphql';
import type { Type } from '@nestjs/common';
import { DriverUtils } from 'typeorm/driver/DriverUtils';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { BadUserInputError } from '../errors/domain-error';
import { isStorableDate } from '../validation';
import { rowVersions, rowVersionsFrom, rowVersionsSql } from '../database/row-versions';
import type { MemoRequest } from './response-memo';

@ObjectType()
export class PageInfo {
  @Field() hasNextPage!: boolean;
  @Field(() => String, { nullable: true }) endCursor!: string | null;
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: PageInfo;
  /** Counted only when a client selects `totalCount`: on a large table the count costs far more than the page. */
  totalCount: () => Promise<number>;
}

/** Resolves `totalCount` by calling it (Nest's field resolver returns a property as it is). */
const countWhenSelected: FieldMiddleware = async (_ctx, next) => ((await next()) as () => Promise<number>)();

/** `XxxConnection` / `XxxEdge` object types for a node type, Relay style. */
export function ConnectionType<T>(node: Type<T>, name: string): Type<Connection<T>> {
  @ObjectType(`${name}Edge`)
  class Edge {
    @Field() cursor!: string;
    @Field(() => node) node!: T;
  }
  @ObjectType(`${name}Connection`)
  class ConnectionClass {
    @Field(() => [Edge]) edges!: Edge[];
    @Field(() => PageInfo) pageInfo!: PageInfo;
    @Field(() => Int, { middleware: [countWhenSelected] }) totalCount!: () => Promise<number>;
  }
  return ConnectionClass;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Cursor {
  createdAt: string;
  /** The tie-breaker column's value (the id unless told otherwise). */
  key: string;
}

function decodeCursor(after: string, keyIsUuid: boolean): Cursor {
  try {
    const parsed = JSON.parse(Buffer.from(after, 'base64url').toString('utf8')) as Partial<Cursor>;
    // Exactly as encoded below: Date.parse alone takes "' OR '1'='1" for a date, and PostgreSQL
    // refuses what JavaScript calls valid years (0, negative) and text holding U+0000.
    if (
      typeof parsed.createdAt === 'string' &&
      isStorableDate(new Date(parsed.createdAt)) &&
      new Date(parsed.createdAt).toISOString() === parsed.createdAt &&
      typeof parsed.key === 'string' &&
      parsed.key.length <= 400 &&
      !parsed.key.includes('\u0000') &&
      (!keyIsUuid || UUID_RE.test(parsed.key))
    ) {
      return { createdAt: parsed.createdAt, key: parsed.key };
    }
  } catch {
    // fall through to the error below
  }
  throw BadUserInputError.field('after', 'is not a cursor this API returned');
}

/**
 * Newest first (createdAt, then the tie-breaker, `id` by default), keyset-paginated so cursors
 * stay valid while rows are added. `mapNode` turns an entity into what the edge carries.
 */
export async function paginate<E extends ObjectLiteral & { createdAt: Date }, N>(
  qb: SelectQueryBuilder<E>,
  args: { first?: number | null; after?: string | null },
  mapNode: (row: E) => N,
  options: {
    tieBreaker?: keyof E & string;
    /** A memoizable request's (ResponseMemo): its kept answer is served while the page's rows are the same row versions. */
    memo?: MemoRequest | null;
  } = {},
): Promise<Connection<N>> {
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw BadUserInputError.field('first', `must be between 1 and ${MAX_PAGE_SIZE}`);
  }
  const tie = options.tieBreaker ?? 'id';
  const alias = qb.alias;
  let counted: Promise<number> | undefined;
  const totalCount = (): Promise<number> => (counted ??= qb.clone().getCount());
  const page = qb.clone();
  if (args.after) {
    const cursor = decodeCursor(args.after, tie === 'id');
    page.andWhere(`(${alias}.createdAt, ${alias}.${tie}) < (:cursorAt, :cursorKey)`, { cursorAt: cursor.createdAt, cursorKey: cursor.key });
  }
  page.orderBy(`${alias}.createdAt`, 'DESC').addOrderBy(`${alias}.${tie}`, 'DESC');
  const fields = plainFields(page);
  const key = options.memo && fields ? versionKey(page) : null;
  const memo = key ? options.memo : null;
  if (memo && key && memo.hasKept() && memo.answerIfValid(await pageVersions(page, first + 1, key.databaseName))) {
    return { edges: [], pageInfo: { hasNextPage: false, endCursor: null }, totalCount };
  }
  const { rows, versions } = fields ? await readPlain(page, first + 1, fields, key?.propertyName ?? null) : { rows: await page.take(first + 1).getMany(), versions: null };
  // The versions of the rows this answer shows, read with them: a fingerprint read in a
  // statement of its own could see other rows (a change committed in between, then undone).
  if (memo && versions !== null) memo.record(versions);
  const hasNextPage = rows.length > first;
  const encode = (row: E): string =>
    Buffer.from(JSON.stringify({ createdAt: row.createdAt.toISOString(), key: String(row[tie]) } satisfies Cursor)).toString('base64url');
  const edges = rows.slice(0, first).map((row) => ({ cursor: encode(row), node: mapNode(row) }));
  return { edges, pageInfo: { hasNextPage, endCursor: edges.at(-1)?.cursor ?? null }, totalCount };
}

/**
 * The key a page's row versions are told apart by: a single uuid primary column (its text is
 * plain ASCII without commas, so the app and PostgreSQL sort and join it alike). A page without
 * one is not kept.
 */
function versionKey<E extends ObjectLiteral>(page: SelectQueryBuilder<E>): ColumnMetadata | null {
  const main = page.expressionMap.mainAlias;
  const primary = main?.hasMetadata ? main.metadata.primaryColumns : [];
  return primary.length === 1 && primary[0].type === 'uuid' ? primary[0] : null;
}

/**
 * The row versions (rowVersions) a page would read, worked out by PostgreSQL: the same rows in
 * the same versions give the same page. Much cheaper than the page: one short row out.
 */
async function pageVersions<E extends ObjectLiteral>(page: SelectQueryBuilder<E>, limit: number, keyColumn: string): Promise<string> {
  const [sql, params] = page.clone().select(`"${page.alias}"."${keyColumn}"::text || ':' || "${page.alias}".xmin::text`, 'v').limit(limit).getQueryAndParameters();
  const [row] = (await page.connection.query(`SELECT ${rowVersionsSql('v')} FROM (${sql}) AS page`, params)) as { n: number; versions: string }[];
  return rowVersionsFrom(row);
}

/**
 * The page's rows as plain objects with the entity's property names, read raw: TypeORM's entity
 * hydration was 10–15 % of a `messages` request's CPU, and node-postgres already parses the
 * column types in PLAIN_TYPES exactly as hydration would leave them. Anything else (another
 * column type, a transformer, an embedded object, a join, a partial select, relation ids or
 * counts, inheritance, load listeners or subscribers) is read through TypeORM as before.
 * paginate reads through readPlain itself; this is exported for its test.
 */
export async function plainRows<E extends ObjectLiteral>(qb: SelectQueryBuilder<E>, limit: number): Promise<E[]> {
  const fields = plainFields(qb);
  return fields ? (await readPlain(qb, limit, fields, null)).rows : qb.take(limit).getMany();
}

/** Plain rows (plainRows), and with `versionsOf` (the key property) their row versions (rowVersions). */
async function readPlain<E extends ObjectLiteral>(
  qb: SelectQueryBuilder<E>,
  limit: number,
  fields: (readonly [string, string])[],
  versionsOf: string | null,
): Promise<{ rows: E[]; versions: string | null }> {
  const query = versionsOf ? qb.clone().addSelect(`"${qb.alias}".xmin::text`, VERSION_ALIAS) : qb;
  const raw = await query.limit(limit).getRawMany<Record<string, unknown>>();
  const rows = raw.map((r) => {
    const row: Record<string, unknown> = {};
    for (const [property, key] of fields) row[property] = r[key];
    return row as E;
  });
  const versions = versionsOf ? rowVersions(rows.map((row, i) => `${String(row[versionsOf])}:${String(raw[i][VERSION_ALIAS])}`)) : null;
  return { rows, versions };
}

/** The raw column readPlain reads each row's xmin into. */
const VERSION_ALIAS = 'row_version_xmin';

/** Column types whose pg-parsed values equal TypeORM's hydrated ones (arrays only of text). */
const PLAIN_TYPES = new Set<unknown>(['uuid', 'varchar', 'character varying', 'text', 'int', 'integer', 'int4', 'boolean', 'jsonb', 'timestamptz', 'timestamp with time zone', 'enum']);

const isPlain = (c: ColumnMetadata): boolean =>
  PLAIN_TYPES.has(c.type) && !c.transformer && !c.embeddedMetadata && (!c.isArray || c.type === 'text' || c.type === 'varchar') && (c.type !== 'enum' || c.enum?.every((v) => typeof v === 'string') === true);

/**
 * [property, raw column alias] for every column, when the query selects its whole main entity and
 * nothing else and every column is plain; otherwise null. Exported for its test.
 */
export function plainFields<E extends ObjectLiteral>(qb: SelectQueryBuilder<E>): (readonly [string, string])[] | null {
  const map = qb.expressionMap;
  const main = map.mainAlias;
  if (!main?.hasMetadata) return null;
  const { metadata } = main;
  const wholeEntityOnly = map.selects.length === 1 && map.selects[0].selection === main.name;
  const nothingElse = !map.joinAttributes.length && !map.relationIdAttributes.length && !map.relationCountAttributes.length;
  const noHooks = !metadata.discriminatorColumn && !metadata.afterLoadListeners.length && !qb.connection.subscribers.length;
  const columns = metadata.columns.filter((c) => c.isSelect && !c.isVirtual);
  if (!wholeEntityOnly || !nothingElse || !noHooks || !columns.length || !columns.every(isPlain)) return null;
  // The names TypeORM gives the selected columns (alias_column, hashed when too long).
  return columns.map((c) => [c.propertyName, DriverUtils.buildAlias(qb.connection.driver, undefined, main.name, c.databaseName)] as const);
}
