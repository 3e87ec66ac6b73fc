import { Extensions } from '@nestjs/graphql';
import {
  type DocumentNode,
  type ExecutionResult,
  getNamedType,
  type getVariableValues,
  type GraphQLObjectType,
  type GraphQLSchema,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { RequestWithViewer } from '../auth/current-viewer.decorator';
import { isAdmin } from '../auth/viewer';

/**
 * Which fields that have a resolver a memoized root field's own validity check covers. Fields
 * without one only read a property of what the root field returned, so they are always covered.
 */
export type MemoRules = {
  /** Fields of the root field's items (not deeper) whose data the root resolver reads and checks itself. */
  itemFields?: readonly string[];
  /** `Type.field` resolvers whose answers depend only on what the validity check covers, at any depth. */
  fields?: readonly string[];
};

/**
 * Marks a query field whose whole answer may be kept and served again while it is still valid
 * (ResponseMemo). Its resolver must take part: see MemoRequest.
 */
export const MemoizedResponse = (rules: MemoRules): MethodDecorator & ClassDecorator => Extensions({ responseMemo: rules });

/** An answer's data already serialized: `stringifyResult` writes it as it is. */
export class PreSerialized {
  constructor(readonly json: string) {}

  /** Any other serializer gets the data itself. */
  toJSON(): unknown {
    return JSON.parse(this.json) as unknown;
  }
}

/** Apollo's `stringifyResult`: compact JSON, with memoized data spliced in without a second stringify. */
export function stringifyResult(result: { data?: unknown; errors?: unknown; extensions?: unknown }): string {
  if (!(result.data instanceof PreSerialized)) return JSON.stringify(result);
  const rest = JSON.stringify({ ...result, data: undefined });
  return rest === '{}' ? `{"data":${result.data.json}}` : `{"data":${result.data.json},${rest.slice(1)}`;
}

type Entry = { validity: string; state: string; json: string; size: number; keptAt: number };

/**
 * How long an answer is kept at most, however often it is found valid: a bound on what the
 * validity checks cannot see (a database restored to an earlier point while the API runs on,
 * whose transaction ids then repeat).
 */
export const MAX_AGE_MS = 10 * 60_000;

/** Set by the GraphQL module's HTTP context: only answers going out over HTTP are kept and spliced. */
export const OVER_HTTP = Symbol('answered over HTTP');

/**
 * One request's view of the memo, for a query the executor found memoizable (one root field that
 * allows it, every field below covered). When an answer is kept (`hasKept`), its root resolver
 * works out what the answer would depend on now (the validity: say, the versions of the rows it
 * would read and the counters it would show) and calls `answerIfValid`: the kept answer is
 * served, and the resolver returns an empty list. Otherwise it reads its data and `record`s the
 * validity of exactly what it read, read together with it (the row versions in the same
 * statement as the rows): a validity read apart could match again later while the answer shows
 * a change undone since.
 */
export class MemoRequest {
  /** The kept answer to serve instead of this request's (answerIfValid). */
  answered: string | null = null;
  recorded: { validity: string; state: string } | null = null;

  constructor(
    private readonly entry: Entry | undefined,
    readonly key: string,
  ) {}

  /** Whether an answer is kept for this request (else checking its validity is wasted work). */
  hasKept(): boolean {
    return this.entry !== undefined;
  }

  /** What the resolver recorded with the kept answer (say, the rows' ids and limits), if one is kept. */
  previousState(): string | undefined {
    return this.entry?.state;
  }

  /** Serves the kept answer when it was made under this same validity. */
  answerIfValid(validity: string): boolean {
    if (this.entry?.validity !== validity) return false;
    this.answered = this.entry.json;
    return true;
  }

  /** The answer this request makes is valid under `validity`; `state` (counted in the memo's size) is handed to the next request. */
  record(validity: string, state = ''): void {
    this.recorded = { validity, state };
  }
}

const requests = new WeakMap<object, MemoRequest>();

/** The memo request of a GraphQL context, when its operation is memoizable. */
export function memoRequestOf(context: object): MemoRequest | null {
  return requests.get(context) ?? null;
}

/**
 * Whole answers of memoizable queries (MemoizedResponse), kept per query document, variables and
 * viewer, and served again only after the root resolver found them still valid against the
 * database and Redis: nothing is invalidated by hand, so a change made by another process (a
 * worker sending, a second API process) is seen as soon as it is committed. For a list of 100
 * servers polled by a dashboard, an answer served again costs a third of one made afresh
 * (docs/performance.md, graphql). Least recently used answers go first, within `maxBytes`.
 */
export class ResponseMemo {
  private readonly entries = new Map<string, Entry>();
  private readonly eligible = new WeakMap<DocumentNode, Map<string, boolean>>();
  private size = 0;
  private servedCount = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Answers kept now, their size (key, validity, state and JSON, in characters) and how many were served again since start: for tests and diagnostics. */
  get stats(): { kept: number; size: number; served: number } {
    return { kept: this.entries.size, size: this.size, served: this.servedCount };
  }

  /**
   * A MemoRequest for this operation when it is memoizable and comes over HTTP (an in-memory
   * `executeOperation` gets plain data), registered for its context; null otherwise.
   */
  begin(
    schema: GraphQLSchema,
    request: {
      document: DocumentNode;
      operation?: OperationDefinitionNode;
      queryHash: string;
      context: object;
      /** The operation's variables coerced as graphql-js does (getVariableValues). */
      coerce: () => ReturnType<typeof getVariableValues>;
    },
  ): MemoRequest | null {
    const { document, operation, context } = request;
    const http = context as { req?: RequestWithViewer; [OVER_HTTP]?: boolean };
    if (this.maxBytes <= 0 || !operation || http[OVER_HTTP] !== true || !http.req?.viewer) return null;
    if (!this.isEligible(schema, document, operation)) return null;
    // The operation's own variables as it reads them, in the order it declares them: undeclared
    // ones or another order must not make another key (a client could fill the memo with them).
    const coerced = request.coerce();
    if (coerced.errors) return null;
    const declared = (operation.variableDefinitions ?? []).map((d) => d.variable.name.value).filter((name) => name in coerced.coerced);
    const variables = JSON.stringify(Object.fromEntries(declared.map((name) => [name, coerced.coerced[name]])));
    const viewer = http.req.viewer;
    const who = isAdmin(viewer) ? 'ADMIN' : `${viewer.accountId}:${viewer.isAgency}`;
    const key = `${request.queryHash}\n${operation.name?.value ?? ''}\n${who}\n${variables}`;
    const kept = this.entries.get(key);
    const entry = kept && this.now() - kept.keptAt < MAX_AGE_MS ? kept : undefined;
    const memo = new MemoRequest(entry, key);
    requests.set(context, memo);
    return memo;
  }

  /** The result to send: the kept answer, or this one, kept when its resolver recorded a validity. */
  finish(memo: MemoRequest, result: ExecutionResult): ExecutionResult | { data: PreSerialized } {
    if (result.errors?.length || !result.data) return result;
    const old = this.entries.get(memo.key);
    if (memo.answered !== null) {
      this.servedCount++;
      // Served: now the most recently used (unless pushed out meanwhile).
      if (old) {
        this.entries.delete(memo.key);
        this.entries.set(memo.key, old);
      }
      return { data: new PreSerialized(memo.answered) };
    }
    if (!memo.recorded) return result;
    // The answer kept so far is out of date either way.
    if (old) {
      this.entries.delete(memo.key);
      this.size -= old.size;
    }
    const json = JSON.stringify(result.data);
    const { validity, state } = memo.recorded;
    const entry: Entry = { validity, state, json, size: memo.key.length + validity.length + state.length + json.length, keptAt: this.now() };
    if (entry.size <= this.maxBytes / 8) {
      this.entries.set(memo.key, entry);
      this.size += entry.size;
      for (const [key, e] of this.entries) {
        if (this.size <= this.maxBytes) break;
        this.entries.delete(key);
        this.size -= e.size;
      }
    }
    return { data: new PreSerialized(json) };
  }

  /** One root field that allows memoizing, without directives, and every field below it covered by its rules. */
  private isEligible(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): boolean {
    let byOperation = this.eligible.get(document);
    if (!byOperation) this.eligible.set(document, (byOperation = new Map()));
    const name = operation.name?.value ?? '';
    let ok = byOperation.get(name);
    if (ok === undefined) byOperation.set(name, (ok = operationIsCovered(schema, document, operation)));
    return ok;
  }
}

function operationIsCovered(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): boolean {
  const queryType = schema.getQueryType();
  const [root, ...others] = operation.selectionSet.selections;
  if (operation.operation !== 'query' || !queryType || others.length || root?.kind !== Kind.FIELD || root.directives?.length) return false;
  const field = queryType.getFields()[root.name.value];
  const rules = field?.extensions?.responseMemo as MemoRules | undefined;
  const itemType = field && getNamedType(field.type);
  if (!rules || !root.selectionSet || !isObjectType(itemType)) return false;
  const fragments = new Map(document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])));

  const covered = (set: SelectionSetNode, type: GraphQLObjectType, depth: number): boolean =>
    set.selections.every((s) => {
      if (s.kind !== Kind.FIELD) {
        const fragment = s.kind === Kind.INLINE_FRAGMENT ? s : fragments.get(s.name.value);
        // Only fragments on the same object type: anything abstract is left to the executor alone.
        const on = fragment?.typeCondition?.name.value ?? type.name;
        return !!fragment && on === type.name && covered(fragment.selectionSet, type, depth);
      }
      if (s.name.value === '__typename') return true;
      const def = type.getFields()[s.name.value];
      if (!def) return false;
      const ruled = (rules.fields ?? []).includes(`${type.name}.${def.name}`) || (depth === 1 && (rules.itemFields ?? []).includes(def.name));
      if (def.resolve && !ruled) return false;
      if (!s.selectionSet) return true;
      const inner = getNamedType(def.type);
      return isObjectType(inner) && covered(s.selectionSet, inner, depth + 1);
    });
  return covered(root.selectionSet, itemType, 1);
}
