import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, Kind, type ValueNode, visit } from 'graphql';
import { BadUserInputError } from '../errors/domain-error';

const NUL = '\u0000';

/**
 * PostgreSQL text cannot hold U+0000, so a string carrying it would fail deep inside a write
 * (or a search) as a database error. Every string of an operation's arguments, inline or from
 * variables, is checked once per request, before anything runs, and refused as BAD_USER_INPUT
 * naming its input path (the argument name is dropped below it, as for validation errors:
 * `input.name` → `name`).
 */
export function nulCharacterGuardPlugin(): ApolloServerPlugin {
  return {
    requestDidStart() {
      return Promise.resolve({
        didResolveOperation({ document, request }) {
          const variables = request.variables ?? {};
          const found = new Set<string>();
          const walkValue = (value: unknown, path: string[]): void => {
            if (typeof value === 'string') {
              if (value.includes(NUL)) found.add(fieldPath(path));
            } else if (Array.isArray(value)) {
              value.forEach((v) => walkValue(v, path));
            } else if (value && typeof value === 'object') {
              for (const [key, v] of Object.entries(value)) walkValue(v, [...path, key]);
            }
          };
          const walkNode = (node: ValueNode, path: string[]): void => {
            switch (node.kind) {
              case Kind.STRING:
                if (node.value.includes(NUL)) found.add(fieldPath(path));
                break;
              case Kind.VARIABLE:
                walkValue(variables[node.name.value], path);
                break;
              case Kind.LIST:
                node.values.forEach((v) => walkNode(v, path));
                break;
              case Kind.OBJECT:
                node.fields.forEach((f) => walkNode(f.value, [...path, f.name.value]));
                break;
              case Kind.INT:
              case Kind.FLOAT:
              case Kind.BOOLEAN:
              case Kind.NULL:
              case Kind.ENUM:
                break;
            }
          };
          // The whole document: arguments inside fragments count too.
          visit(document, {
            Argument(node) {
              walkNode(node.value, [node.name.value]);
            },
          });
          if (found.size === 0) return Promise.resolve();
          const fields = [...found];
          const refusal = new BadUserInputError(`${fields.join(', ')} must not contain the NUL character (U+0000)`, fields);
          throw new GraphQLError(refusal.message, { originalError: refusal, extensions: { http: { status: 400 } } });
        },
      });
    },
  };
}

const fieldPath = (path: string[]): string => (path.length > 1 ? path.slice(1) : path).join('.');
