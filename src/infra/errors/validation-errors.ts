import type { ValidationError } from 'class-validator';
import { BadUserInputError } from './domain-error';

/** Flattens class-validator errors into input paths ("quota.hourly") and one readable message. */
export function toBadUserInput(errors: ValidationError[], prefix = ''): BadUserInputError {
  const problems: { path: string; message: string }[] = [];
  const walk = (list: ValidationError[], base: string): void => {
    for (const e of list) {
      const path = base ? `${base}.${e.property}` : e.property;
      const constraint = Object.values(e.constraints ?? {})[0];
      if (constraint) problems.push({ path, message: constraint.startsWith(e.property) ? `${path}${constraint.slice(e.property.length)}` : `${path}: ${constraint}` });
      if (e.children?.length) walk(e.children, path);
    }
  };
  walk(errors, prefix);
  const fields = [...new Set(problems.map((p) => p.path))];
  return new BadUserInputError(problems.map((p) => p.message).join('; ') || 'Invalid input', fields);
}
