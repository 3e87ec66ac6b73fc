import { Global, Module, type Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { APP_CONFIG } from '../../src/config/configuration';
import { REDIS } from '../../src/infra/redis/redis.module';
import { PacingService } from '../../src/modules/quota/pacing.service';
import { QuotaModule } from '../../src/modules/quota/quota.module';
import { QuotaService } from '../../src/modules/quota/quota.service';
import { EmptySendLedger, SEND_LEDGER, type SendLedger } from '../../src/modules/quota/send-ledger';
import { MemoryLedger, RedisHarness, serverIds, tomorrowAt } from './quota-harness';

describe('QuotaModule wiring', () => {
  const harness = new RedisHarness();
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

  it('plain QuotaModule: the services with the empty ledger', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [infra(), QuotaModule] }).compile();
    expect(moduleRef.get(QuotaService)).toBeInstanceOf(QuotaService);
    expect(moduleRef.get(PacingService)).toBeInstanceOf(PacingService);
    expect(moduleRef.get<SendLedger>(SEND_LEDGER, { strict: false })).toBeInstanceOf(EmptySendLedger);
    await moduleRef.close();
  });

  it('forRoot({ ledger }) puts the real ledger behind counter rebuilds', async () => {
    const ledger = new MemoryLedger();
    const moduleRef = await Test.createTestingModule({ imports: [infra(), QuotaModule.forRoot({ ledger: { useValue: ledger } })] }).compile();
    const quota = moduleRef.get(QuotaService);
    const subject = { serverId: serverIds(), timezone: 'UTC', limits: { hourly: 3, daily: null, monthly: null } };
    const now = tomorrowAt();
    ledger.record(subject.serverId, now, 3);
    expect(await quota.reserve(subject, now)).toMatchObject({ ok: false, window: 'HOURLY', used: 3 });
    expect(ledger.queries).toBeGreaterThan(0);
    await moduleRef.close();
  });

  it('forRoot({ ledger: { useExisting } }) takes a ledger from an imported module', async () => {
    class PgLikeLedger extends MemoryLedger {}
    @Module({ providers: [PgLikeLedger], exports: [PgLikeLedger] })
    class LedgerModule {}
    const moduleRef = await Test.createTestingModule({
      imports: [infra(), QuotaModule.forRoot({ imports: [LedgerModule], ledger: { useExisting: PgLikeLedger } })],
    }).compile();
    expect(moduleRef.get<SendLedger>(SEND_LEDGER, { strict: false })).toBe(moduleRef.get(PgLikeLedger, { strict: false }));
    await moduleRef.close();
  });
});
