import {
  execute,
  type ExecutionResult,
  GraphQLInt,
  GraphQLList,
  GraphQLObjectType,
  type GraphQLFieldConfigMap,
  GraphQLSchema,
  GraphQLString,
  getVariableValues,
  type OperationDefinitionNode,
  parse,
} from 'graphql';
import { MAX_AGE_MS, memoRequestOf, OVER_HTTP, PreSerialized, ResponseMemo, stringifyResult } from '../../src/infra/graphql/response-memo';
import { Role, type Viewer } from '../../src/infra/auth/viewer';

type Item = { id: string; usage: number; child?: Item };

/** What the memoized root field answers from: a version standing for its rows and counters. */
const data = { version: 1, items: [] as Item[], made: 0, fail: false };

const Item: GraphQLObjectType = new GraphQLObjectType({
  name: 'Item',
  fields: (): GraphQLFieldConfigMap<Item, object> => ({
    id: { type: GraphQLString },
    child: { type: Item },
    usage: { type: GraphQLInt, resolve: (item) => item.usage },
    secret: { type: GraphQLString, resolve: () => 'from the same rows' },
    extra: { type: GraphQLString, resolve: () => 'read from elsewhere' },
  }),
});

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: 'Query',
    fields: {
      items: {
        type: new GraphQLList(Item),
        extensions: { responseMemo: { itemFields: ['usage'], fields: ['Item.secret'] } },
        resolve: (_source, _args, context: object) => {
          const memo = memoRequestOf(context);
          const validity = `v${data.version}`;
          if (memo?.answerIfValid(validity)) return [];
          if (data.fail) throw new Error('no rows today');
          memo?.record(validity, `made at version ${data.version}`);
          data.made++;
          return data.items;
        },
      },
      plain: { type: new GraphQLList(Item), resolve: () => data.items },
      other: { type: GraphQLString, resolve: () => 'other' },
    },
  }),
});

const agencyViewer: Viewer = { role: Role.ACCOUNT, tokenId: 't1', accountId: 'a1', isAgency: true };
const httpContext = (viewer: Viewer = agencyViewer): object => ({ req: { viewer }, res: {}, [OVER_HTTP]: true });

/** One request as JitExecution runs it: begin, execute, finish; then Apollo's stringify. */
async function run(memo: ResponseMemo, query: string, variables: Record<string, unknown> = {}, context = httpContext()): Promise<{ body: string; memoized: boolean }> {
  const document = parse(query);
  const operation = document.definitions[0] as OperationDefinitionNode;
  const request = memo.begin(schema, { document, operation, queryHash: query, context, coerce: () => getVariableValues(schema, operation.variableDefinitions ?? [], variables) });
  const result = (await execute({ schema, document, contextValue: context, variableValues: variables })) as ExecutionResult;
  return { body: stringifyResult(request ? memo.finish(request, result) : result), memoized: !!request };
}

describe('ResponseMemo', () => {
  beforeEach(() => {
    data.version = 1;
    data.items = [
      { id: 'i1', usage: 3, child: { id: 'c1', usage: 0 } },
      { id: 'i2', usage: 5 },
    ];
    data.made = 0;
    data.fail = false;
  });

  it('takes only a single root field that allows it, with every field below a plain read or covered by its rules', async () => {
    const memo = new ResponseMemo(1 << 20);
    const covered = [
      '{ items { id usage secret child { id secret } } }',
      '{ items { ...F } } fragment F on Item { id usage __typename }',
      '{ items { ... on Item { id usage } ... { secret } } }',
      'query Named($x: Boolean!) { list: items { id @include(if: $x) } }',
    ];
    const notCovered = [
      '{ items { id extra } }', // a resolver no rule covers
      '{ items { child { usage } } }', // an item field deeper than the items
      '{ items { id } other }', // two root fields
      '{ plain { id } }', // a root field that does not allow it
      '{ items @skip(if: false) { id } }', // a directive on the root field
      '{ items { ...F } } fragment F on Item { extra }',
    ];
    for (const query of covered) expect({ query, memoized: (await run(memo, query, { x: true })).memoized }).toEqual({ query, memoized: true });
    for (const query of notCovered) expect({ query, memoized: (await run(memo, query)).memoized }).toEqual({ query, memoized: false });
  });

  it('is off at 0 bytes, and for a request that did not come over HTTP with a viewer (an in-memory executeOperation gets plain data)', async () => {
    const query = '{ items { id } }';
    expect((await run(new ResponseMemo(0), query)).memoized).toBe(false);
    const memo = new ResponseMemo(1 << 20);
    // An in-memory caller's context may well have a req and a res.
    expect((await run(memo, query, {}, { req: { viewer: agencyViewer }, res: {} })).memoized).toBe(false);
    expect((await run(memo, query, {}, { req: {}, res: {}, [OVER_HTTP]: true })).memoized).toBe(false);
  });

  it('serves a kept answer while its validity holds, byte for byte the answer made afresh, and makes a new one when it changes', async () => {
    const memo = new ResponseMemo(1 << 20);
    const query = '{ items { id usage secret child { id } } }';
    const first = await run(memo, query);
    expect(JSON.parse(first.body)).toEqual({
      data: { items: [{ id: 'i1', usage: 3, secret: 'from the same rows', child: { id: 'c1' } }, { id: 'i2', usage: 5, secret: 'from the same rows', child: null }] },
    });
    expect((await run(memo, query)).body).toBe(first.body);
    expect(data.made).toBe(1);
    expect(memo.stats).toMatchObject({ kept: 1, served: 1 });

    data.version = 2;
    data.items[0].usage = 4;
    const changed = await run(memo, query);
    expect(JSON.parse(changed.body).data.items[0].usage).toBe(4);
    expect(data.made).toBe(2);
    expect((await run(memo, query)).body).toBe(changed.body);
    expect(memo.stats).toMatchObject({ kept: 1, served: 2 });
  });

  it('keeps answers apart by document, operation, variables and viewer', async () => {
    const memo = new ResponseMemo(1 << 20);
    const query = 'query A($x: Boolean!) { items { id @include(if: $x) } } query B { items { usage } }';
    const other: Viewer = { role: Role.ACCOUNT, tokenId: 't2', accountId: 'a2', isAgency: false };
    const admin: Viewer = { role: Role.ADMIN, tokenId: null };
    const requests: [string, Record<string, unknown>, Viewer][] = [
      ['A', { x: true }, agencyViewer],
      ['A', { x: false }, agencyViewer],
      ['A', { x: true }, other],
      ['A', { x: true }, admin],
      ['B', {}, agencyViewer],
    ];
    const document = parse(query);
    for (const [name, variables, viewer] of requests) {
      const operation = document.definitions.find((d) => (d as OperationDefinitionNode).name?.value === name) as OperationDefinitionNode;
      const context = httpContext(viewer);
      const request = memo.begin(schema, { document, operation, queryHash: query, context, coerce: () => getVariableValues(schema, operation.variableDefinitions ?? [], variables) });
      if (!request) throw new Error('not memoized');
      memo.finish(request, (await execute({ schema, document, operationName: name, contextValue: context, variableValues: variables })) as ExecutionResult);
    }
    expect(data.made).toBe(requests.length);
    expect(memo.stats).toMatchObject({ kept: requests.length, served: 0 });
  });

  it('keys by the variables the operation declares, as it reads them: not by extra ones or their order', async () => {
    const memo = new ResponseMemo(1 << 20);
    const query = 'query($x: Boolean!, $y: Int) { items { id @include(if: $x) usage @skip(if: false) } }';
    await run(memo, query, { x: true, y: 1 });
    await run(memo, query, { y: 1, x: true, unused: 'a' });
    await run(memo, query, { y: 1, x: true, unused: 'b' });
    expect(memo.stats).toMatchObject({ kept: 1, served: 2 });
    // An explicit null is not the same request as a variable left out.
    await run(memo, query, { x: true, y: null });
    await run(memo, query, { x: true });
    expect(memo.stats).toMatchObject({ kept: 3, served: 2 });
    // A request whose variables do not fit is left to the executor's error, and kept nowhere.
    expect((await run(memo, query, { x: 'yes' })).memoized).toBe(false);
  });

  it(`keeps an answer for ${MAX_AGE_MS / 60_000} minutes at most, however often it is valid`, async () => {
    let now = 1_000_000;
    const memo = new ResponseMemo(1 << 20, () => now);
    const query = '{ items { id } }';
    await run(memo, query);
    now += MAX_AGE_MS - 1;
    await run(memo, query);
    expect(data.made).toBe(1);
    now += 1;
    await run(memo, query);
    expect(data.made).toBe(2);
    await run(memo, query);
    expect(memo.stats).toMatchObject({ kept: 1, served: 2 });
  });

  it('drops a kept answer that is out of date even when its replacement is too large to keep', async () => {
    const query = '{ items { id } }';
    const measure = new ResponseMemo(1 << 20);
    await run(measure, query);
    const memo = new ResponseMemo(measure.stats.size * 8);
    await run(memo, query);
    expect(memo.stats.kept).toBe(1);
    data.version = 2;
    data.items = Array.from({ length: 50 }, (_, i) => ({ id: `item-${i}`, usage: i }));
    expect(JSON.parse((await run(memo, query)).body).data.items).toHaveLength(50);
    expect(memo.stats).toMatchObject({ kept: 0, size: 0 });
  });

  it('keeps no answer that has errors', async () => {
    const memo = new ResponseMemo(1 << 20);
    data.fail = true;
    const failed = JSON.parse((await run(memo, '{ items { id } }')).body) as { data: unknown; errors: { message: string }[] };
    expect(failed.errors[0].message).toBe('no rows today');
    expect(memo.stats.kept).toBe(0);
    data.fail = false;
    await run(memo, '{ items { id } }');
    expect(data.made).toBe(1);
    expect(memo.stats).toMatchObject({ kept: 1, served: 0 });
  });

  it('stays within its bytes: the least recently used go first, and an answer over an eighth of them is not kept', async () => {
    data.items = Array.from({ length: 20 }, (_, i) => ({ id: `item-${i}`.padEnd(40, '.'), usage: i }));
    const query = (n: number): string => `query Q${n} { items { id } }`;
    const measure = new ResponseMemo(1 << 20);
    const one = await run(measure, query(0));
    const entry = measure.stats.size; // every query(n) is the same size, but for one digit
    const maxBytes = entry * 8 + Math.floor(entry / 2); // eight fit, not nine
    const memo = new ResponseMemo(maxBytes);
    for (let n = 0; n < 8; n++) await run(memo, query(n));
    await run(memo, query(0)); // served: now the most recently used
    expect(memo.stats).toMatchObject({ kept: 8, served: 1 });
    await run(memo, query(8)); // pushes out Q1, the least recently used
    expect(memo.stats.kept).toBe(8);
    expect(memo.stats.size).toBeLessThanOrEqual(maxBytes);
    const made = data.made;
    await run(memo, query(0));
    expect(data.made).toBe(made);
    await run(memo, query(1));
    expect(data.made).toBe(made + 1);

    const small = new ResponseMemo(entry * 4);
    expect((await run(small, query(0))).body).toBe(one.body);
    expect(small.stats.kept).toBe(0);
  });

  it('writes kept data into the answer as it is, with any errors or extensions beside it', () => {
    const json = '{"items":[{"id":"i1"}]}';
    expect(stringifyResult({ data: new PreSerialized(json) })).toBe(`{"data":${json}}`);
    const withExtensions = stringifyResult({ data: new PreSerialized(json), extensions: { cost: 3 } });
    expect(JSON.parse(withExtensions)).toEqual({ data: JSON.parse(json), extensions: { cost: 3 } });
    expect(JSON.stringify({ data: new PreSerialized(json) })).toBe(`{"data":${json}}`);
    expect(stringifyResult({ data: { a: 1 } })).toBe('{"data":{"a":1}}');
  });
});
