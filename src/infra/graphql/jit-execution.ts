import type { GatewayExecutor, GatewayGraphQLRequestContext, GatewayInterface, GatewayLoadResult, GatewayUnsubscriber } from '@apollo/server-gateway-interface';
import { Inject, Injectable } from '@nestjs/common';
import { TypeMetadataStorage } from '@nestjs/graphql';
import { BREAK, type DocumentNode, execute, type ExecutionResult, getVariableValues, type GraphQLSchema, isInterfaceType, isObjectType, visit } from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import { ResponseMemo } from './response-memo';

type SchemaListener = Parameters<GatewayInterface['onSchemaLoadOrUpdate']>[0];

/** Compiled query documents kept; the least recently used go first. */
const MAX_COMPILED = 200;
/** Query documents seen once, remembered so their second request compiles them. */
const MAX_SEEN_ONCE = 1_000;

/**
 * Queries run as JavaScript compiled once per query document (graphql-jit) instead of being
 * interpreted field by field (graphql-js): a list of 100 delivery servers with their usage is
 * ~5,000 field executions per request, and graphql-js spent a promise, a path and an argument
 * object on each (docs/performance.md, graphql). Apollo Server takes a custom executor only
 * through its gateway interface, so this is one: it serves the schema Nest built (handed over by
 * `transformSchema`) and executes with it. Apollo still parses, validates, applies the query
 * limits and formats errors as before.
 *
 * What stays on graphql-js:
 * - mutations: few, their inputs are where the careful errors are, nothing to gain;
 * - any document with a string literal: graphql-jit writes literal argument values into the code
 *   it generates and turns strings of a certain shape into code (`"__MAGIC_DATE__…(…)"`
 *   becomes `new Date(…)`), so a crafted literal would run on the server. Clients that repeat a
 *   query pass its values as variables, which are never compiled. Every other literal is a
 *   number, a boolean, null or an enum value; a custom scalar that made a string out of one
 *   would need the same exclusion;
 * - a document with the name `__proto__` anywhere (an alias, a variable): graphql-jit drops such
 *   a field from its results and such a variable from its arguments;
 * - a document seen for the first time: compiling costs a few ms and memory, so only documents
 *   that come back are compiled, and at most MAX_COMPILED are kept. Documents seen once wait in
 *   a separate list, so a flood of one-off documents cannot push the compiled ones out.
 */
@Injectable()
export class JitExecution implements GatewayInterface {
  private schema: GraphQLSchema | null = null;
  private listener: SchemaListener | null = null;
  /** By query hash and operation: the compiled query, or null when it does not compile. */
  private readonly compiledQueries = new Map<string, CompiledQuery | null>();
  private readonly seenOnce = new Set<string>();
  private readonly compilable = new WeakMap<DocumentNode, boolean>();
  private compiledCount = 0;
  /** Answers of memoizable queries, served again while their resolvers find them valid. */
  readonly memo: ResponseMemo;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.memo = new ResponseMemo(config.graphql.responseMemoBytes);
  }

  /** How many query documents were compiled since start (for tests and diagnostics). */
  get compiled(): number {
    return this.compiledCount;
  }

  /** Nest's `transformSchema` hook: the schema it built, with its plain property reads left to the executor. */
  readonly captureSchema = (schema: GraphQLSchema): GraphQLSchema => {
    dropPropertyResolvers(schema);
    this.schema = schema;
    return schema;
  };

  onSchemaLoadOrUpdate(listener: SchemaListener): GatewayUnsubscriber {
    this.listener = listener;
    return () => (this.listener = null);
  }

  load(): Promise<GatewayLoadResult> {
    const schema = this.schema;
    if (!schema) throw new Error('JitExecution: the schema was not built before Apollo started (is transformSchema set?)');
    this.listener?.({ apiSchema: schema, coreSupergraphSdl: '' });
    const executor: GatewayExecutor = (request) => this.execute(schema, request);
    return Promise.resolve({ executor });
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  private async execute(schema: GraphQLSchema, request: GatewayGraphQLRequestContext): Promise<ExecutionResult> {
    const variables = request.request.variables ?? {};
    // Worked out once, for whichever of the memo and the compiled query needs them first.
    let coerced: ReturnType<typeof getVariableValues> | undefined;
    const coerce = (): ReturnType<typeof getVariableValues> => (coerced ??= getVariableValues(schema, request.operation?.variableDefinitions ?? [], variables));
    const memo = this.memo.begin(schema, { ...request, coerce });
    const result = await this.run(schema, request, variables, coerce);
    return memo ? (this.memo.finish(memo, result) as ExecutionResult) : result;
  }

  private async run(
    schema: GraphQLSchema,
    request: GatewayGraphQLRequestContext,
    variables: Record<string, unknown>,
    coerce: () => ReturnType<typeof getVariableValues>,
  ): Promise<ExecutionResult> {
    const { document, operation, operationName, context } = request;
    const compiled = operation?.operation === 'query' && this.isCompilable(document) ? this.compiledFor(schema, request) : null;
    if (!compiled) return execute({ schema, document, contextValue: context, variableValues: variables, operationName });
    // Variables are checked by graphql-js first, so a bad one gets the same error (and `fields`
    // path) whichever executor runs the query.
    const { errors } = coerce();
    if (errors) return { errors };
    return compiled.query(undefined, context, variables);
  }

  /** The compiled query the second time a document comes, null before (and when it does not compile). */
  private compiledFor(schema: GraphQLSchema, request: GatewayGraphQLRequestContext): CompiledQuery | null {
    const key = `${request.queryHash}\n${request.operationName ?? ''}`;
    if (this.compiledQueries.has(key)) {
      const compiled = this.compiledQueries.get(key) ?? null;
      touch(this.compiledQueries, key, compiled, MAX_COMPILED);
      return compiled;
    }
    if (!this.seenOnce.delete(key)) {
      this.seenOnce.add(key);
      if (this.seenOnce.size > MAX_SEEN_ONCE) this.seenOnce.delete(this.seenOnce.values().next().value as string);
      return null;
    }
    const result = compileQuery(schema, request.document, request.operationName ?? undefined);
    const compiled = isCompiledQuery(result) ? result : null;
    if (compiled) this.compiledCount++;
    // Remembered even when it does not compile, so it is not tried again on every request.
    touch(this.compiledQueries, key, compiled, MAX_COMPILED);
    return compiled;
  }

  /** No string literal anywhere (see the class comment) and no name `__proto__`. */
  private isCompilable(document: DocumentNode): boolean {
    let ok = this.compilable.get(document);
    if (ok === undefined) {
      ok = true;
      visit(document, {
        StringValue: () => {
          ok = false;
          return BREAK;
        },
        Name: (node) => {
          if (node.value !== '__proto__') return undefined;
          ok = false;
          return BREAK;
        },
      });
      this.compilable.set(document, ok);
    }
    return ok;
  }
}

/** Sets `key` as the most recently used entry, dropping the least recently used beyond `max`. */
function touch<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value as string);
}

/**
 * Nest gives every field of an object type a resolver, even one that only reads the property of
 * the same name. graphql-jit inlines a plain read but makes a resolve call, with its info object,
 * for any field that has a resolver: that was most of its time and memory on a list of servers.
 * So those resolvers go wherever they only read `parent[field]`; a field whose property is
 * renamed, has a default value or a field middleware keeps Nest's (graphql-js reads properties
 * the same way without one).
 */
function dropPropertyResolvers(schema: GraphQLSchema): void {
  const special = new Set<string>();
  for (const type of [...TypeMetadataStorage.getObjectTypesMetadata(), ...TypeMetadataStorage.getInterfacesMetadata()]) {
    for (const p of type.properties ?? []) {
      if (p.name !== p.schemaName || p.options.defaultValue !== undefined || p.middleware?.length) special.add(p.schemaName);
    }
  }
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) && !isInterfaceType(type)) continue;
    for (const field of Object.values(type.getFields())) {
      if (field.resolve?.name === 'rootFieldResolver' && !special.has(field.name)) field.resolve = undefined;
    }
  }
}
