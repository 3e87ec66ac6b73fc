import { isTransientDbError, retryTransientDb } from './transient-db-error';

const withCode = (message: string, code: string): Error => Object.assign(new Error(message), { code });

describe('isTransientDbError', () => {
  it.each([
    withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
    withCode('terminating connection due to administrator command', '57P01'),
    withCode('deadlock detected', '40P01'),
    withCode('connection failure', '08006'),
    new Error('Connection terminated unexpectedly'),
  ])('retries %s', (err) => expect(isTransientDbError(err)).toBe(true));

  it.each([withCode('duplicate key value violates unique constraint', '23505'), withCode('syntax error', '42601'), 'not an error'])('does not retry %s', (err) =>
    expect(isTransientDbError(err)).toBe(false),
  );
});

describe('retryTransientDb', () => {
  it('tries again while the database is away and answers once it is back', async () => {
    let calls = 0;
    const answer = await retryTransientDb(async () => {
      if (++calls < 3) throw withCode('connect ECONNREFUSED', 'ECONNREFUSED');
      return 'ok';
    }, 10_000);
    expect(answer).toBe('ok');
    expect(calls).toBe(3);
  });

  it('throws a statement error at once, and a transient one after the deadline', async () => {
    let calls = 0;
    await expect(
      retryTransientDb(async () => {
        calls++;
        throw withCode('syntax error', '42601');
      }, 10_000),
    ).rejects.toThrow('syntax error');
    expect(calls).toBe(1);
    await expect(retryTransientDb(() => Promise.reject(withCode('connect ECONNREFUSED', 'ECONNREFUSED')), 0)).rejects.toThrow('ECONNREFUSED');
  });
});
