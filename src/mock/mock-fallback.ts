import { type GraphQLSchema, getNullableType, isObjectType, isScalarType } from 'graphql';
import type { IMocks } from '@graphql-tools/mock';

/**
 * Values for fields the mock's data set does not know yet: a field added to schema.gql still
 * resolves (the mock is built from the schema at run time, so it never lags behind it), with a
 * plainly placeholder value of the right shape rather than a plausible-looking wrong one.
 * `onFallback` hears each such field, so a test can insist the data set covers the schema.
 */
export function fallbackMocks(schema: GraphQLSchema, newId: () => string, nowIso: () => string, onFallback: (coordinate: string) => void): IMocks {
  const mocks: IMocks = {
    ID: () => newId(),
    DateTime: () => nowIso(),
    String: () => 'mock value',
    Int: () => 0,
    Float: () => 0,
    Boolean: () => false,
  };
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    const fields: Record<string, () => unknown> = {};
    for (const field of Object.values(type.getFields())) {
      const coordinate = `${type.name}.${field.name}`;
      const fieldType = getNullableType(field.type);
      const isString = isScalarType(fieldType) && fieldType.name === 'String';
      fields[field.name] = () => {
        onFallback(coordinate);
        // Strings get a value that says what it stands for; other types are generated from the schema.
        return isString ? placeholder(field.name) : undefined;
      };
    }
    mocks[type.name] = fields;
  }
  return mocks;
}

function placeholder(fieldName: string): string {
  if (/email|address|^(from|to|replyTo)$/i.test(fieldName)) return 'placeholder@example.com';
  if (/url/i.test(fieldName)) return 'https://example.com/placeholder';
  if (/zone/i.test(fieldName)) return 'UTC';
  if (/domain|host/i.test(fieldName)) return 'example.com';
  return `(mock ${fieldName})`;
}
