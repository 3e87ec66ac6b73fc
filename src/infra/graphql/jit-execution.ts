import type { GatewayExecutor, GatewayGraphQLRequestContext, GatewayInterface, GatewayLoadResult, GatewayUnsubscriber } from '@apollo/server-gateway-interface';
import { TypeMetadataStorage } from '@nestjs/graphql';
import { type DocumentNode, execute, type ExecutionResult, getVariableValues, type GraphQLSchema, isInterfaceType, isObjectType, type OperationDefinitionNode } from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';

type SchemaListener = Parameters<GatewayInterface['onSchemaLoadOrUpdate']>[0];

/**
 * Queries run as JavaScript compiled once per query document (graphql-jit) instead of being
 * interpreted field by field (graphql-js): a list of 100 delivery servers with their usage is
 * ~5,000 field executions per request, and graphql-js spent a promise, a path and an argument
 * object on each (docs/performance.md, graphql). Mutations stay on graphql-js: they are few,
 * their inputs are where the careful errors are, and they gain nothing from compiling.
 *
 * Apollo Server takes a custom executor only through its gateway interface, so this is one:
 * it serves the schema Nest built (handed over by `transformSchema`) and executes with it.
 * Apollo still parses, validates, applies the query limits and formats errors as before.
 */
export class JitExecution implements GatewayInterface {
  private schema: GraphQLSchema | null = null;
  private listener: SchemaListener | null = null;
  /** Compiled per parsed document (Apollo keeps the parsed documents in its own LRU cache) and operation. */
  private readonly compiled = new WeakMap<DocumentNode, Map<string, CompiledQuery>>();

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
    const { document, operation, operationName, context } = request;
    const variables = request.request.variables ?? {};
    if (operation?.operation !== 'query') {
      return execute({
        schema,
        document,
        contextValue: context,
        variableValues: variables,
        operationName,
      });
    }
    // Variables are checked by graphql-js first, so a bad one gets the same error (and `fields`
    // path) whichever executor runs the query.
    const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
    if (coerced.errors) return { errors: coerced.errors };
    const compiled = this.compile(schema, document, operation, operationName);
    if (!isCompiledQuery(compiled)) return compiled;
    return compiled.query(undefined, context, variables);
  }

  private compile(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, operationName: string | null): CompiledQuery | ExecutionResult {
    let byOperation = this.compiled.get(document);
    if (!byOperation) {
      byOperation = new Map();
      this.compiled.set(document, byOperation);
    }
    const key = operation.name?.value ?? operationName ?? '';
    const cached = byOperation.get(key);
    if (cached) return cached;
    const compiled = compileQuery(schema, document, operationName ?? undefined);
    if (isCompiledQuery(compiled)) byOperation.set(key, compiled);
    return compiled;
  }
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
