import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { existsSync } from 'node:fs';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { buildAppConfig } from './config/configuration';
import { ConfigError, validateEnv } from './config/env.validation';
import { configureApp } from './configure-app';
import { runMigrations } from './infra/database/run-migrations';
import { checkPostgres, checkRedis } from './infra/preflight';

/** Prints one line and stops: the start-up failures a person can fix by reading it. */
function stop(line: string): never {
  process.stderr.write(`mailroute: ${line}\n`);
  process.exit(1);
}

async function bootstrap(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  let config;
  try {
    config = buildAppConfig(validateEnv(process.env));
  } catch (err) {
    if (err instanceof ConfigError) stop(err.message);
    throw err;
  }
  const problem = (await checkPostgres(config.database.url)) ?? (await checkRedis(config.redis.url));
  if (problem) stop(problem);
  await runMigrations(config.database.url, (line) => process.stdout.write(`mailroute: ${line}\n`));

  // No rawBody: only webhooks need the bytes as sent, and WebhookBodyMiddleware reads those raw.
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), { bufferLogs: true });
  configureApp(app);
  await app.listen(config.port);
  const logger = app.get(Logger);
  logger.log(`mailroute ${config.role} listening on http://localhost:${config.port}${config.role === 'worker' ? ' (health only)' : '/graphql'}`);
  if (config.credentials.derived) logger.warn('CREDENTIALS_KEY is not set: using a key derived for development. Set CREDENTIALS_KEY in production.');
  if (config.auth.adminTokenGenerated) logger.warn(`ADMIN_TOKEN is not set: this run accepts the development ADMIN token ${config.auth.adminToken}`);
}

bootstrap().catch((err: unknown) => stop(`failed to start: ${err instanceof Error ? err.message : String(err)}`));
