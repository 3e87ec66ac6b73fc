import type { ApolloServerPlugin } from '@apollo/server';
import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  GraphQLError,
  GraphQLInt,
  Kind,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
  getNamedType,
  getNullableType,
  isInterfaceType,
  isListType,
  isObjectType,
  valueFromAST,
} from 'graphql';
import { BadUserInputError } from '../errors/domain-error';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './pagination';

/**
 * What a list of unknown length is assumed to hold when it has no `first` argument: a page
 * (`subAccounts`, `assignedAccounts`, `events` …). Introspection lists (types, fields, args)
 * are priced lower so that a tool's standard introspection query fits; their nesting is
 * still bounded by the depth limit.
 */
const ASSUMED_LIST_SIZE = DEFAULT_PAGE_SIZE;
const ASSUMED_INTROSPECTION_LIST_SIZE = 5;

export interface OperationSize {
  /** Deepest nesting of fields; root fields are depth 1. `ofType` chains of introspection do not add depth (they do not fan out). */
  depth: number;
  /** Every field costs 1; a list multiplies the cost of its fields by its page size. */
  cost: number;
  /** A `first` outside 1..MAX_PAGE_SIZE, if any: the operation is refused for it, naming it. */
  badPageSize?: number;
}

type FieldDef = GraphQLField<unknown, unknown>;

/**
 * The depth and estimated cost of one operation of a validated document. A connection's
 * `first` (variables resolved; default 50, at most 500) is the page size of its `edges`; any other list is
 * assumed to hold a page. Aliases are separate fields and cost separately; a fragment spread
 * costs what its fragment costs, each time it is spread.
 */
export function measureOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> = {},
): OperationSize {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  // A fragment is measured once per page size it is spread under, however often it is used.
  const measured = new Map<string, OperationSize>();
  const root = schema.getRootType(operation.operation);
  if (!root) return { depth: 0, cost: 0 };
  let badPageSize: number | undefined;

  const pageSizeArgument = (node: FieldNode, def: FieldDef): number | undefined => {
    if (!def.args.some((a) => a.name === 'first')) return undefined;
    const arg = node.arguments?.find((a) => a.name.value === 'first');
    const value: unknown = arg ? valueFromAST(arg.value, GraphQLInt, variables) : undefined;
    if (typeof value !== 'number') return DEFAULT_PAGE_SIZE;
    if (value < 1 || value > MAX_PAGE_SIZE) badPageSize ??= value;
    return Math.min(Math.max(0, value), MAX_PAGE_SIZE);
  };

  const fieldDef = (parent: GraphQLNamedType, name: string): FieldDef | undefined => {
    if (parent === root && name === SchemaMetaFieldDef.name) return SchemaMetaFieldDef;
    if (parent === root && name === TypeMetaFieldDef.name) return TypeMetaFieldDef;
    return isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[name] : undefined;
  };

  const field = (node: FieldNode, parent: GraphQLNamedType, page: number | undefined): OperationSize => {
    const def = fieldDef(parent, node.name.value);
    if (!node.selectionSet || !def) return { depth: 1, cost: 1 };
    const introspection = parent.name.startsWith('__') || def === SchemaMetaFieldDef || def === TypeMetaFieldDef;
    const ownPage = pageSizeArgument(node, def);
    const isList = isListType(getNullableType(def.type));
    // A paged field that returns a list is its own page; one that returns a connection hands its page to `edges`.
    const multiplier = isList ? (ownPage ?? page ?? (introspection ? ASSUMED_INTROSPECTION_LIST_SIZE : ASSUMED_LIST_SIZE)) : 1;
    const child = selectionSet(node.selectionSet, getNamedType(def.type), isList ? undefined : ownPage);
    const ownLevel = introspection && node.name.value === 'ofType' ? 0 : 1;
    return { depth: ownLevel + child.depth, cost: 1 + multiplier * child.cost };
  };

  const selectionSet = (set: SelectionSetNode, parent: GraphQLNamedType, page: number | undefined): OperationSize => {
    let depth = 0;
    let cost = 0;
    for (const selection of set.selections) {
      let size: OperationSize;
      switch (selection.kind) {
        case Kind.FIELD:
          size = field(selection, parent, page);
          break;
        case Kind.INLINE_FRAGMENT: {
          const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
          size = selectionSet(selection.selectionSet, type ?? parent, page);
          break;
        }
        case Kind.FRAGMENT_SPREAD: {
          const key = `${selection.name.value}:${page ?? ''}`;
          let known = measured.get(key);
          const fragment = fragments.get(selection.name.value);
          if (!known && fragment) {
            // Validation has run, so fragments exist and do not cycle; the placeholder guards anyway.
            measured.set(key, { depth: 0, cost: 0 });
            known = selectionSet(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value) ?? parent, page);
            measured.set(key, known);
          }
          size = known ?? { depth: 0, cost: 0 };
          break;
        }
      }
      depth = Math.max(depth, size.depth);
      cost += size.cost;
    }
    return { depth, cost };
  };

  return { ...selectionSet(operation.selectionSet, root, undefined), badPageSize };
}

const refused = (message: string): GraphQLError =>
  new GraphQLError(message, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } } });

/**
 * Refuses, before anything runs, an operation nested deeper than `maxDepth` or estimated to
 * cost more than `maxCost` (see measureOperation). Runs after validation, with the request's
 * variables, so a `first: $first` is priced at its real value.
 */
export function queryLimitsPlugin(limits: { maxDepth: number; maxCost: number }): ApolloServerPlugin {
  return {
    requestDidStart() {
      return Promise.resolve({
        didResolveOperation({ schema, document, operation, request }) {
          if (!operation) return Promise.resolve();
          const { depth, cost, badPageSize } = measureOperation(schema, document, operation, request.variables);
          // The page size a resolver would refuse is named as such, before a cost it inflated is.
          if (badPageSize !== undefined) {
            // Refused before execution, so a request error (400) like the other refusals here, not a 500.
            const refusal = BadUserInputError.field('first', `must be between 1 and ${MAX_PAGE_SIZE}`);
            throw new GraphQLError(refusal.message, { originalError: refusal, extensions: { http: { status: 400 } } });
          }
          if (depth > limits.maxDepth) {
            throw refused(`The operation is nested ${depth} levels deep; the limit is ${limits.maxDepth}. Ask for less nested data.`);
          }
          if (cost > limits.maxCost) {
            throw refused(
              `The operation's estimated cost is ${cost}; the limit is ${limits.maxCost} (every field costs 1, and a list multiplies its fields by its page size: \`first\`, else ${DEFAULT_PAGE_SIZE}). Ask for fewer fields, fewer aliases or a smaller \`first\`.`,
            );
          }
          return Promise.resolve();
        },
      });
    },
  };
}
