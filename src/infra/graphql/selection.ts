import {
  type FieldNode,
  type FragmentSpreadNode,
  getDirectiveValues,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  type GraphQLResolveInfo,
  type InlineFragmentNode,
  Kind,
  type SelectionSetNode,
} from 'graphql';

/**
 * Whether the field being resolved asks for a sub-field `name` of its items (directly, or
 * through inline fragments and fragment spreads, minus what `@skip`/`@include` leave out). Lets a
 * list resolver fetch for all its items at once what the items' own resolvers would fetch one by
 * one, and only when they will.
 */
export function selectsField(info: GraphQLResolveInfo, name: string): boolean {
  const seen = new Set<string>();
  const included = (node: FieldNode | InlineFragmentNode | FragmentSpreadNode): boolean =>
    getDirectiveValues(GraphQLSkipDirective, node, info.variableValues)?.if !== true &&
    getDirectiveValues(GraphQLIncludeDirective, node, info.variableValues)?.if !== false;
  const inSet = (set: SelectionSetNode | undefined): boolean =>
    (set?.selections ?? []).some((s) => {
      if (!included(s)) return false;
      if (s.kind === Kind.FIELD) return s.name.value === name;
      if (s.kind === Kind.INLINE_FRAGMENT) return inSet(s.selectionSet);
      const fragment = info.fragments[s.name.value];
      if (!fragment || seen.has(s.name.value)) return false;
      seen.add(s.name.value);
      return inSet(fragment.selectionSet);
    });
  // graphql-jit passes every node of the field, also those @skip/@include leave out.
  return info.fieldNodes.some((node) => included(node) && inSet(node.selectionSet));
}
