import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { APP_CONFIG, type AppConfig } from '../../config/configuration';
import { REDIS } from '../../infra/redis/redis.module';
import { DeliveryErrorCode } from '../../providers/provider.enums';
import { DeliveryServersService } from '../delivery-servers/delivery-servers.service';

/** Connection, time-out or login failures within WINDOW that open the circuit. */
export const CIRCUIT_FAILURES = 5;
export const CIRCUIT_WINDOW_MS = 60_000;
/** How long an open circuit keeps the server out of routing. */
export const CIRCUIT_COOL_DOWN_MS = 60_000;
/** Login failures in a row (no success between) that pause the server for a person to fix. */
export const AUTH_FAILURES_TO_PAUSE = 3;

export interface CircuitState {
  openUntil: Date | null;
  failing: boolean;
}

const TRIPPING = new Set([DeliveryErrorCode.CONNECTION_FAILED, DeliveryErrorCode.TIMEOUT, DeliveryErrorCode.AUTH_FAILED]);

/**
 * Takes a failing server out of routing for a cool-down, across all workers (state in Redis):
 * FAILOVER mail flows to the next server at once, WAIT mail defers instead of burning retries.
 * A login that keeps failing pauses the server with the reason recorded.
 */
@Injectable()
export class CircuitBreaker {
  private readonly prefix: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly servers: DeliveryServersService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.prefix = `${config.redis.prefix}:circuit`;
  }

  /** When each server's circuit closes again (null: closed), in one round trip. */
  async openUntil(serverIds: string[]): Promise<(Date | null)[]> {
    return (await this.states(serverIds)).map((s) => s.openUntil);
  }

  /**
   * Each server's circuit (when it closes again; null: closed) and whether failures are being
   * counted against it, in one round trip. A send that succeeds needs to reset the counts only
   * then (recordSuccess), which spares a Redis write per message on a healthy server.
   */
  async states(serverIds: string[]): Promise<CircuitState[]> {
    if (!serverIds.length) return [];
    const values = await this.redis.mget(...serverIds.flatMap((id) => [`${this.prefix}:open:${id}`, `${this.prefix}:fail:${id}`, `${this.prefix}:auth:${id}`]));
    return serverIds.map((_id, i) => {
      const [open, fail, auth] = values.slice(i * 3, i * 3 + 3);
      return { openUntil: open && Number(open) > Date.now() ? new Date(Number(open)) : null, failing: Number(fail ?? 0) > 0 || Number(auth ?? 0) > 0 };
    });
  }

  async recordSuccess(serverId: string): Promise<void> {
    await this.redis.del(`${this.prefix}:fail:${serverId}`, `${this.prefix}:auth:${serverId}`);
  }

  async recordFailure(serverId: string, code: DeliveryErrorCode, message: string): Promise<void> {
    if (!TRIPPING.has(code)) return;
    const failKey = `${this.prefix}:fail:${serverId}`;
    const authKey = `${this.prefix}:auth:${serverId}`;
    const multi = this.redis.multi().incr(failKey).pexpire(failKey, CIRCUIT_WINDOW_MS, 'NX');
    if (code === DeliveryErrorCode.AUTH_FAILED) multi.incr(authKey).pexpire(authKey, 24 * 3_600_000);
    const replies = (await multi.exec()) ?? [];
    const failures = Number(replies[0]?.[1] ?? 0);
    const authFailures = code === DeliveryErrorCode.AUTH_FAILED ? Number(replies[2]?.[1] ?? 0) : 0;
    if (failures >= CIRCUIT_FAILURES) {
      const until = Date.now() + CIRCUIT_COOL_DOWN_MS;
      await this.redis.set(`${this.prefix}:open:${serverId}`, String(until), 'PX', CIRCUIT_COOL_DOWN_MS);
      await this.redis.del(failKey);
    }
    if (authFailures >= AUTH_FAILURES_TO_PAUSE) {
      await this.servers.pauseForProblem(serverId, `Paused after ${authFailures} failed logins in a row: ${message}`.slice(0, 500));
      await this.redis.del(authKey);
    }
  }
}
