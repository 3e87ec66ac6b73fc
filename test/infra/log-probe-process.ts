/**
 * The API as main.ts builds it (pino logging included), for test/infra/log-lines.int-spec.ts:
 * listens on a free loopback port and prints `listening <port>`. A `log-errors` line on stdin
 * makes it log two errors through Nest's Logger the way library code does (a message with a
 * stack; an error carrying a driver's SQL), so the test can read what reaches the log.
 */
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AddressInfo } from 'node:net';
import { AppModule } from '../../src/app.module';
import { buildAppConfig } from '../../src/config/configuration';
import { validateEnv } from '../../src/config/env.validation';
import { configureApp } from '../../src/configure-app';

async function main(): Promise<void> {
  const config = buildAppConfig(validateEnv(process.env));
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), { bufferLogs: true, rawBody: true });
  configureApp(app);
  await app.listen(0, '127.0.0.1');
  const logger = new Logger('Probe');
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (line: string) => {
    if (!line.includes('log-errors')) return;
    logger.error('probe failed', new Error('probe stack').stack);
    logger.error(Object.assign(new Error('driver failed'), { query: 'SELECT probe_secret_sql', parameters: ['probe-parameter'] }));
  });
  process.stdin.on('end', () => void app.close().then(() => process.exit(0)));
  process.stdout.write(`listening ${(app.getHttpServer().address() as AddressInfo).port}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`log-probe-process: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
