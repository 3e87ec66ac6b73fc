import { Inject, Injectable, Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import type { Viewer } from '../../infra/auth/viewer';
import { BadUserInputError, DomainError, ErrorCode } from '../../infra/errors/domain-error';
import { logUnexpected } from '../../infra/errors/unexpected-error';
import { REDIS } from '../../infra/redis/redis.module';
import { DeliveryError } from '../../providers/delivery-error';
import { DeliveryErrorCode, type TransportKind } from '../../providers/provider.enums';
import { ProviderGateway } from '../../providers/provider-gateway';
import type { DeliveryServerEntity, StoredTestResult } from './delivery-server.entity';
import { DeliveryServersService } from './delivery-servers.service';
import { ServerVault } from './server-vault';
import { isEmailAddress } from '../../infra/validation';
import { PacingService } from '../quota/pacing.service';

/** Test emails per server per window: enough to debug a setup, too few to spam with. */
export const TEST_LIMIT = 5;
export const TEST_WINDOW_SECONDS = 600;
/** How long a test waits for the server's pause (pauseMs) before answering that it is too soon. */
export const TEST_PACING_WAIT_MS = 10_000;

/**
 * testSmtpServer: a real, clearly labelled test email through the server. A provider failure
 * is the result (ok: false, classified error), never a GraphQL error. A test keeps the server's
 * pauseMs from the sends around it. It is not counted in the quota windows: a server whose
 * credentials changed must be verifiable again however full its month is (tests are few: at
 * most TEST_LIMIT per TEST_WINDOW_SECONDS).
 */
@Injectable()
export class ServerTestsService {
  private readonly logger = new Logger(ServerTestsService.name);

  constructor(
    private readonly servers: DeliveryServersService,
    private readonly vault: ServerVault,
    private readonly gateway: ProviderGateway,
    private readonly pacing: PacingService,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async test(viewer: Viewer, id: string, to: string | null | undefined, transport?: TransportKind | null): Promise<{ server: DeliveryServerEntity; result: StoredTestResult }> {
    const server = await this.servers.getManageable(viewer, id);
    // An empty `to` is as good as none: the server's own test address then.
    const recipient = (to?.trim() || server.testEmail || server.senderAddress || '').trim().toLowerCase();
    if (!recipient) throw BadUserInputError.field('to', 'is required: this server has no testEmail or senderAddress to send the test to');
    if (!isEmailAddress(recipient)) throw BadUserInputError.field('to', 'must be an email address such as "ops@example.com"');
    if (transport && !this.gateway.transportsFor(this.vault.providerServer(server)).includes(transport)) {
      throw BadUserInputError.field('transport', `is not configured on this server (it has ${server.credentialSummary.api ? 'API' : ''}${server.credentialSummary.api && server.credentialSummary.smtp ? ' and ' : ''}${server.credentialSummary.smtp ? 'SMTP' : ''})`);
    }
    await this.takeRateLimit(server.id);

    const from = server.senderAddress ?? server.testEmail ?? (server.sendingDomain ? `postmaster@${server.sendingDomain}` : recipient);
    const started = process.hrtime.bigint();
    const refused = (code: DeliveryErrorCode, message: string): StoredTestResult => ({
      ok: false,
      to: recipient,
      transport: null,
      messageId: null,
      durationMs: elapsed(started),
      error: { code, message, transport: null, smtpResponseCode: null, providerStatus: null, step: null },
      testedAt: new Date().toISOString(),
    });
    const slot = await this.pacing.acquire(server.id, server.pauseMs, { maxInlineWaitMs: TEST_PACING_WAIT_MS });
    if (slot.reschedule) {
      const result = refused(DeliveryErrorCode.THROTTLED, `The server's pause between sends (pauseMs) puts its next send ${Math.ceil(slot.waitMs / 1000)} s away: the test email was not sent; try again then`);
      return { server: await this.servers.recordTest(server, result), result };
    }
    const result = await this.send(server, from, recipient, transport, started);
    return { server: await this.servers.recordTest(server, result), result };
  }

  private async send(server: DeliveryServerEntity, from: string, recipient: string, transport: TransportKind | null | undefined, started: bigint): Promise<StoredTestResult> {
    try {
      const sent = await this.gateway.send(
        this.vault.providerServer(server),
        {
          from,
          to: recipient,
          subject: `mailroute test email: ${server.name}`,
          text: testBody(server),
          headers: [{ name: 'X-Mailroute-Test', value: server.id }],
        },
        { only: transport ?? undefined },
      );
      return { ok: true, to: recipient, transport: sent.transport, messageId: sent.providerMessageId, durationMs: elapsed(started), error: null, testedAt: new Date().toISOString() };
    } catch (err) {
      const e =
        err instanceof DeliveryError
          ? err
          : new DeliveryError({
              code: DeliveryErrorCode.PROVIDER_ERROR,
              transient: true,
              message: `The test failed unexpectedly (error id ${logUnexpected(this.logger, `Test of server ${server.id} failed unexpectedly`, err)})`,
            });
      return {
        ok: false,
        to: recipient,
        transport: null,
        messageId: null,
        durationMs: elapsed(started),
        error: {
          code: e.code,
          message: e.message,
          transport: e.transport ?? null,
          smtpResponseCode: e.smtpResponseCode ?? null,
          providerStatus: e.providerStatus ?? null,
          step: e.smtpStep ?? null,
        },
        testedAt: new Date().toISOString(),
      };
    } finally {
      await this.pacing.markSent(server.id, server.pauseMs).catch(() => undefined);
    }
  }

  private async takeRateLimit(serverId: string): Promise<void> {
    const key = `${this.config.redis.prefix}:test-limit:${serverId}`;
    const [[, count], , [, ttl]] = (await this.redis.multi().incr(key).expire(key, TEST_WINDOW_SECONDS, 'NX').ttl(key).exec()) as [
      [Error | null, number],
      [Error | null, number],
      [Error | null, number],
    ];
    if (count > TEST_LIMIT) {
      throw new DomainError(ErrorCode.RATE_LIMITED, `At most ${TEST_LIMIT} test emails per server every ${TEST_WINDOW_SECONDS / 60} minutes; try again in ${ttl} s`, {
        retryAfterSeconds: ttl,
      });
    }
  }
}

const elapsed = (started: bigint): number => Math.max(0, Math.round(Number(process.hrtime.bigint() - started) / 1e6));

function testBody(server: DeliveryServerEntity): string {
  return [
    'This is a test email from mailroute.',
    '',
    `It was sent to check the delivery server "${server.name}" (${server.provider}).`,
    'If it reached you, the server can deliver mail. No action is needed.',
  ].join('\n');
}
