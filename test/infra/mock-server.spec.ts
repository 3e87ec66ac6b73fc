import { startMockServer } from '../../src/mock/serve-mock';

interface Answer {
  data?: { viewer?: { role: string; account: { name: string } | null } } | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

describe('npm run mock over HTTP', () => {
  let mock: { url: string; stop: () => Promise<void> };

  beforeAll(async () => {
    mock = await startMockServer({ port: 0, now: () => new Date('2026-12-07T12:00:00.000Z') });
  });

  afterAll(async () => {
    await mock.stop();
  });

  const post = (body: object, authorization?: string): Promise<Response> =>
    fetch(mock.url, { method: 'POST', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) }, body: JSON.stringify(body) });

  it('listens on 127.0.0.1 only', () => {
    expect(new URL(mock.url).hostname).toBe('127.0.0.1');
  });

  it.each([undefined, 'Bearer', 'Bearer   ', 'Basic dXNlcjpwYXNz', 'admin-token'])('refuses the whole request with 401 UNAUTHENTICATED for Authorization %p', async (authorization) => {
    const res = await post({ query: '{ __typename }' }, authorization);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    const body = (await res.json()) as Answer;
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(body.data).toBeUndefined();
  });

  it('answers with any bearer token; the prefix picks the viewer', async () => {
    const viewer = async (token: string) => ((await (await post({ query: '{ viewer { role account { name } } }' }, `Bearer ${token}`)).json()) as Answer).data?.viewer;
    expect(await viewer('admin-token')).toEqual({ role: 'ADMIN', account: null });
    expect(await viewer('anything-at-all')).toEqual({ role: 'ACCOUNT', account: { name: 'Acme Growth Agency' } });
    expect(await viewer('sub-account-token')).toEqual({ role: 'ACCOUNT', account: { name: 'Bluebird CRM' } });
  });

  it('reports contract errors as the real API does, with no stack trace', async () => {
    const res = await post({ query: '{ accounts(first: 100000) { totalCount } }' }, 'Bearer admin-token');
    const body = (await res.json()) as Answer;
    expect(body.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', fields: ['first'] });
  });
});
