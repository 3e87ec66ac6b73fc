import { JitExecution } from '../../src/infra/graphql/jit-execution';
import type { TestApp } from './create-test-app';

/**
 * `gqlOk`, failing the test unless the answer was (or was not) one the app's ResponseMemo kept
 * and served again; `memoized` undefined asserts nothing.
 */
export function memoProbe(t: TestApp): <T>(memoized: boolean | undefined, query: string, variables: Record<string, unknown>, token?: string) => Promise<T> {
  const memo = t.app.get(JitExecution).memo;
  return async <T>(memoized: boolean | undefined, query: string, variables: Record<string, unknown>, token?: string): Promise<T> => {
    const before = memo.stats.served;
    const data = await t.gqlOk<T>(query, variables, token);
    if (memoized !== undefined) expect({ query, memoized: memo.stats.served > before }).toEqual({ query, memoized });
    return data;
  };
}
