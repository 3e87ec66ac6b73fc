import { Global, Module, type Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { APP_CONFIG } from '../../src/config/configuration';
import { REDIS } from '../../src/infra/redis/redis.module';
import { PacingService } from '../../src/modules/quota/pacing.service';
import { QuotaModule } from '../../src/modules/quota/quota.module';
import { QuotaService } from '../../src/modules/quota/quota.service';
import type { QuotaSubject } from '../../src/modules/quota/quota.types';
import { SEND_LEDGER } from '../../src/modules/quota/send-ledger';
import { MemoryLedger, RedisHarness, serverIds, tomorrowAt } from './quota-harness';

describe('QuotaModule wiring', () => {
  const harness = new RedisHarness();
  const now = tomorrowAt();
  afterAll(() => harness.close());

  /** What AppModule gives every module: the global REDIS client and APP_CONFIG. */
  const infra = (): Type<unknown> => {
    @Global()
    @Module({
      providers: [
        { provide: REDIS, useValue: harness.client() },
        { provide: APP_CONFIG, useValue: harness.config() },
      ],
      exports: [REDIS, APP_CONFIG],
    })
    class TestInfraModule {}
    return TestInfraModule;
  };

  /** A server whose 3 sends this hour are on record in `ledger` (and nowhere in Redis yet). */
  const recorded = (ledger: MemoryLedger): QuotaSubject => {
    const subject = { serverId: serverIds(), timezone: 'UTC', limits: { hourly: 3, daily: null, monthly: null } };
    ledger.record(subject.serverId, now, 3);
    return subject;
  };

  it('plain QuotaModule without a ledger: the services work, lost counters restart at zero', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [infra(), QuotaModule] }).compile();
    expect(moduleRef.get(PacingService)).toBeInstanceOf(PacingService);
    const subject = recorded(new MemoryLedger());
    expect((await moduleRef.get(QuotaService).reserve(subject, now)).ok).toBe(true);
    await moduleRef.close();
  });

  it('a global SEND_LEDGER (how the messages module plugs in) reaches every plain QuotaModule import', async () => {
    const ledger = new MemoryLedger();
    @Global()
    @Module({ providers: [{ provide: SEND_LEDGER, useValue: ledger }], exports: [SEND_LEDGER] })
    class LedgerModule {}
    @Module({ imports: [QuotaModule] })
    class RoutingLikeModule {}
    const moduleRef = await Test.createTestingModule({ imports: [infra(), LedgerModule, RoutingLikeModule] }).compile();
    expect(await moduleRef.get(QuotaService).reserve(recorded(ledger), now)).toMatchObject({ ok: false, window: 'HOURLY', used: 3 });
    expect(ledger.queries).toBeGreaterThan(0);
    await moduleRef.close();
  });

  it('forRoot({ ledger, imports }) gives one importer its own ledger', async () => {
    class PgLikeLedger extends MemoryLedger {}
    @Module({ providers: [PgLikeLedger], exports: [PgLikeLedger] })
    class PgLedgerModule {}
    const moduleRef = await Test.createTestingModule({
      imports: [infra(), QuotaModule.forRoot({ imports: [PgLedgerModule], ledger: { useExisting: PgLikeLedger } })],
    }).compile();
    const ledger = moduleRef.get(PgLikeLedger, { strict: false });
    expect(await moduleRef.get(QuotaService).reserve(recorded(ledger), now)).toMatchObject({ ok: false, window: 'HOURLY', used: 3 });
    await moduleRef.close();
  });
});
