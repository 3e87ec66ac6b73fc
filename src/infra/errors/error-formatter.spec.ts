import { GraphQLError } from 'graphql';
import { QueryFailedError } from 'typeorm';
import { BadUserInputError, DomainError, ErrorCode } from './domain-error';
import { formatGraphQLError } from './error-formatter';

const format = (original: Error, extensions: Record<string, unknown> = {}) => {
  const error = new GraphQLError(original.message, { originalError: original, path: ['field'], extensions });
  return formatGraphQLError({ message: original.message, path: ['field'], extensions }, error);
};

describe('formatGraphQLError', () => {
  it('shows a DomainError as it is, with its code and fields', () => {
    expect(format(BadUserInputError.field('pauseMs', 'must be at most 3600000'))).toMatchObject({
      message: 'pauseMs must be at most 3600000',
      extensions: { code: 'BAD_USER_INPUT', fields: ['pauseMs'] },
    });
    expect(format(new DomainError(ErrorCode.NO_ROUTE, 'No eligible server'))).toMatchObject({ extensions: { code: 'NO_ROUTE' } });
  });

  it('masks anything unexpected behind an error id: no SQL, no driver text, no stack', () => {
    const out = format(new Error('relation "secret_table" does not exist: SELECT password FROM users'));
    expect(out.message).toMatch(/^Internal error \(id [0-9a-f-]{36}\)$/);
    expect(out.extensions).toMatchObject({ code: 'INTERNAL_SERVER_ERROR' });
    expect(JSON.stringify(out)).not.toMatch(/SELECT|secret_table|password|at .*\.ts/);
  });

  it('answers a unique violation as CONFLICT without its SQL', () => {
    const driverError = Object.assign(new Error('duplicate key value violates unique constraint "UQ_x"'), { code: '23505' });
    const out = format(new QueryFailedError('INSERT INTO delivery_servers VALUES ($1)', ['secret'], driverError));
    expect(out).toMatchObject({ message: 'This conflicts with an existing record', extensions: { code: 'CONFLICT' } });
    expect(JSON.stringify(out)).not.toMatch(/INSERT|secret/);
  });

  it('names the input path of a variable coercion error', () => {
    const error = new GraphQLError('Variable "$input" got invalid value 1.5 at "input.quota.daily"; Int cannot represent non-integer value: 1.5', {
      extensions: { code: 'BAD_USER_INPUT' },
    });
    expect(formatGraphQLError({ message: error.message, extensions: { code: 'BAD_USER_INPUT' } }, error)).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT', fields: ['quota.daily'] },
    });
  });
});
