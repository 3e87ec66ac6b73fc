import { graphql } from 'graphql';
import { join } from 'node:path';
import { mockedSchema } from '../../src/mock/mock-schema';

describe('npm run mock', () => {
  it('answers queries against the committed schema with plausible data and no services', async () => {
    const schema = mockedSchema(join(__dirname, '..', '..', 'schema.gql'));
    const res = await graphql({
      schema,
      source: `{ viewer { role account { id name timezone kind createdAt subAccounts { name } } } accounts(first: 2) { totalCount edges { node { name } } } }`,
    });
    expect(res.errors).toBeUndefined();
    const viewer = (res.data as { viewer: { role: string; account: { timezone: string; createdAt: string; kind: string } } }).viewer;
    expect(['ADMIN', 'ACCOUNT']).toContain(viewer.role);
    expect(viewer.account.timezone).toMatch(/^(UTC|[A-Z][a-z]+\/[A-Za-z_]+)$/);
    expect(viewer.account.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(['AGENCY', 'SUB_ACCOUNT']).toContain(viewer.account.kind);
  });
});
