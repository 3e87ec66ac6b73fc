import { type FieldNode, type FragmentDefinitionNode, type GraphQLResolveInfo, Kind, type OperationDefinitionNode, parse } from 'graphql';
import { selectsField } from '../../src/infra/graphql/selection';

/** The resolve info of the document's root field, as far as selectsField reads it. */
function rootInfo(query: string, variableValues: Record<string, unknown> = {}): GraphQLResolveInfo {
  const document = parse(query);
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const fragments = Object.fromEntries(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]),
  );
  // Every root selection is a node of the same field here (as with `deliveryServers` asked twice).
  const fieldNodes = (operation?.selectionSet.selections ?? []) as FieldNode[];
  return { fieldNodes, fragments, variableValues } as unknown as GraphQLResolveInfo;
}

describe('selectsField', () => {
  it('finds a sub-field asked for directly, in an inline fragment or through (nested) fragment spreads', () => {
    expect(selectsField(rootInfo('{ deliveryServers { id usage { timezone } } }'), 'usage')).toBe(true);
    expect(selectsField(rootInfo('{ deliveryServers { id ... on DeliveryServer { usage { timezone } } } }'), 'usage')).toBe(true);
    expect(selectsField(rootInfo('{ deliveryServers { ...A } } fragment A on DeliveryServer { ...B } fragment B on DeliveryServer { usage { timezone } }'), 'usage')).toBe(true);
  });

  it('does not find a field asked for only deeper down, or not at all, and stops at fragment cycles', () => {
    expect(selectsField(rootInfo('{ deliveryServers { id name } }'), 'usage')).toBe(false);
    expect(selectsField(rootInfo('{ deliveryServers { account { usage } } }'), 'usage')).toBe(false);
    expect(selectsField(rootInfo('{ deliveryServers { ...A } } fragment A on DeliveryServer { id ...A }'), 'usage')).toBe(false);
  });

  it('leaves out what @skip and @include leave out, literal or by variable', () => {
    expect(selectsField(rootInfo('{ deliveryServers { usage @skip(if: true) { timezone } } }'), 'usage')).toBe(false);
    expect(selectsField(rootInfo('query($u: Boolean!) { deliveryServers { usage @include(if: $u) { timezone } } }', { u: false }), 'usage')).toBe(false);
    expect(selectsField(rootInfo('query($u: Boolean!) { deliveryServers { usage @include(if: $u) { timezone } } }', { u: true }), 'usage')).toBe(true);
    expect(selectsField(rootInfo('query($s: Boolean!) { deliveryServers { ... @skip(if: $s) { usage { timezone } } } }', { s: true }), 'usage')).toBe(false);
    expect(selectsField(rootInfo('{ deliveryServers { ...U @include(if: false) } } fragment U on DeliveryServer { usage { timezone } }'), 'usage')).toBe(false);
    expect(selectsField(rootInfo('{ deliveryServers { usage @skip(if: false) { timezone } } }'), 'usage')).toBe(true);
    // graphql-jit hands over every node of the field, those left out too.
    expect(selectsField(rootInfo('{ deliveryServers { id } deliveryServers @include(if: false) { usage { timezone } } }'), 'usage')).toBe(false);
    expect(selectsField(rootInfo('{ deliveryServers { id } deliveryServers @include(if: true) { usage { timezone } } }'), 'usage')).toBe(true);
  });
});
