// `npm run bench`: runs every bench/*.bench.ts in turn; each prints one JSON line per result.
import { readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

// Libraries run as in a deployment (graphql-js, for one, skips its development-only checks);
// the apps the benches boot still get their own configuration from createTestApp. Set before
// any bench is imported, since libraries read it when they load.
process.env.NODE_ENV ??= 'production';

async function main(): Promise<void> {
  const only = process.argv[2];
  const files = readdirSync(__dirname).filter((f) => f.endsWith('.bench.ts') && (!only || f.startsWith(only)));
  for (const file of files) {
    const mod = (await import(join(__dirname, file))) as { run: () => Promise<Record<string, unknown>[]> };
    for (const result of await mod.run()) process.stdout.write(JSON.stringify({ ...result, cores: cpus().length }) + '\n');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
