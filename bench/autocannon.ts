// Runs autocannon in a child process (its own event loop and core, not the app's) and returns
// its JSON result; fails when any request errored or answered other than 2xx.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { Result } from 'autocannon';

export interface LoadOptions {
  url: string;
  body: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
}

const CLI = join(__dirname, '..', 'node_modules', 'autocannon', 'autocannon.js');

export async function postLoad(options: LoadOptions): Promise<Result> {
  const args = [CLI, '--json', '-c', String(options.connections), '-d', String(options.seconds), '-m', 'POST', '-b', options.body];
  for (const [name, value] of Object.entries(options.headers)) args.push('-H', `${name}=${value}`);
  args.push(options.url);
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 }, (err, out, stderr) => (err ? reject(new Error(`autocannon failed: ${err.message} ${stderr}`)) : resolve(out)));
  });
  const result = JSON.parse(stdout) as Result;
  if (result.errors > 0 || result.non2xx > 0) throw new Error(`autocannon: ${result.errors} errors, ${result.non2xx} non-2xx answers against ${options.url}`);
  return result;
}
