import { Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { APP_CONFIG, AppConfig } from '../../config/configuration';

export const REDIS = Symbol('REDIS');

/** The shared Redis client for quota counters, pause slots and health (Bull keeps its own). */
@Injectable()
class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}
  async onApplicationShutdown(): Promise<void> {
    // QUIT needs a live connection; a client still trying to reconnect is just dropped.
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis.disconnect());
    else this.redis.disconnect();
  }
}

@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => {
        const client = new Redis(config.redis.url, {
          // Fail fast instead of queueing commands while Redis is away: callers retry on their own terms.
          maxRetriesPerRequest: 1,
          retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
          connectTimeout: 5_000,
          // Commands issued in the same turn of the event loop (fifty jobs' quota reservations)
          // go out in one write.
          enableAutoPipelining: true,
        });
        // Connection errors are reported by /health/ready; without a listener ioredis would print them raw.
        client.on('error', () => undefined);
        return client;
      },
    },
    RedisCloser,
  ],
  exports: [REDIS],
})
export class RedisModule {}
