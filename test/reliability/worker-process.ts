/**
 * A ROLE=worker mailroute process for the reliability tests, built as main.ts builds one but
 * without preflight, migrations or listen (the test database is cloned from the migrated
 * template; a worker serves only /health, which the tests do not need). Reads its whole
 * configuration from the environment the test gives it and prints `ready` on stdout once the
 * dispatch worker is taking jobs. It exits when its stdin closes, so a test runner that dies
 * without killing it does not leave it sending.
 *
 *   node -r ts-node/register/transpile-only test/reliability/worker-process.ts
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from '../../src/app.module';
import { buildAppConfig } from '../../src/config/configuration';
import { validateEnv } from '../../src/config/env.validation';
import { configureApp } from '../../src/configure-app';

async function main(): Promise<void> {
  const config = buildAppConfig(validateEnv(process.env));
  if (config.role !== 'worker') throw new Error(`worker-process expects ROLE=worker, got ${config.role}`);
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), { bufferLogs: true, rawBody: true });
  configureApp(app);
  await app.init();
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
  process.stdout.write('ready\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`worker-process: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
