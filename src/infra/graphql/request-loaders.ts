import DataLoader from 'dataloader';

const perRequest = new WeakMap<object, Map<string, DataLoader<unknown, unknown>>>();

/**
 * One DataLoader per GraphQL request and key, created on first use: nested fields of a list
 * batch into one query instead of one per row (no N+1), and nothing is cached across requests.
 */
export function requestLoader<K, V>(
  ctx: object,
  key: string,
  batch: (keys: readonly K[]) => Promise<V[]>,
  options?: DataLoader.Options<K, V, unknown>,
): DataLoader<K, V> {
  let loaders = perRequest.get(ctx);
  if (!loaders) perRequest.set(ctx, (loaders = new Map()));
  let loader = loaders.get(key) as DataLoader<K, V> | undefined;
  if (!loader) {
    loader = new DataLoader<K, V, unknown>(batch, options);
    loaders.set(key, loader as DataLoader<unknown, unknown>);
  }
  return loader;
}
