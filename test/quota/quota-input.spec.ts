import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { QuotaInput } from '../../src/modules/quota/dto/quota.input';
import { toBadUserInput } from '../../src/infra/errors/validation-errors';

async function problems(value: Record<string, unknown>): Promise<{ fields: string[]; message: string }> {
  const errors = await validate(plainToInstance(QuotaInput, value));
  if (errors.length === 0) return { fields: [], message: '' };
  const error = toBadUserInput(errors, 'quota');
  return { fields: error.fields, message: error.message };
}

describe('QuotaInput', () => {
  it('accepts positive whole numbers up to 10,000,000, null (unlimited) and left-out fields', async () => {
    expect(await problems({ hourly: 1, daily: 10_000_000, monthly: null })).toEqual({ fields: [], message: '' });
    expect(await problems({})).toEqual({ fields: [], message: '' });
  });

  it.each([
    ['hourly', 0],
    ['daily', -5],
    ['monthly', 2.5],
    ['hourly', '100'],
  ])('refuses %s = %p, naming the field', async (field, value) => {
    expect(await problems({ [field]: value })).toEqual({ fields: [`quota.${field}`], message: `quota.${field} must be a positive whole number or null` });
  });

  it('refuses more than 10,000,000', async () => {
    expect(await problems({ monthly: 10_000_001 })).toEqual({ fields: ['quota.monthly'], message: 'quota.monthly must be at most 10,000,000 (null for unlimited)' });
  });

  it('reports every offending field', async () => {
    expect((await problems({ hourly: 0, daily: 0, monthly: 5 })).fields).toEqual(['quota.hourly', 'quota.daily']);
  });
});
