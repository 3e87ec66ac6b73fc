import { type DynamicModule, type InjectionToken, Module, type ModuleMetadata, type Provider, type Type } from '@nestjs/common';
import { PacingService } from './pacing.service';
import { QuotaService } from './quota.service';
import { SEND_LEDGER, type SendLedger } from './send-ledger';

/** Where QuotaService finds the record of sends it rebuilds lost counters from. */
export type SendLedgerProvider = { useClass: Type<SendLedger> } | { useExisting: InjectionToken } | { useValue: SendLedger };

export interface QuotaModuleOptions {
  ledger: SendLedgerProvider;
  /** Modules the ledger needs (e.g. one exporting the ledger class for `useExisting`). */
  imports?: ModuleMetadata['imports'];
}

/**
 * Quota counters and pause pacing; needs the global REDIS client and APP_CONFIG.
 *
 * The SendLedger (the database's record of sends that lost counters are rebuilt from) is
 * injected optionally, so every module can simply `imports: [QuotaModule]`:
 * - the messages module plugs the PostgreSQL ledger in app-wide by providing and exporting
 *   SEND_LEDGER from a @Global() module, e.g.
 *   `@Global() @Module({ imports: [TypeOrmModule.forFeature([MessageEntity])],
 *   providers: [PgSendLedger, { provide: SEND_LEDGER, useExisting: PgSendLedger }], exports: [SEND_LEDGER] })`;
 * - with none, lost counters restart at 0 (EmptySendLedger);
 * - `QuotaModule.forRoot({ ledger })` gives one importer its own instance with that ledger (tests).
 */
@Module({
  providers: [QuotaService, PacingService],
  exports: [QuotaService, PacingService],
})
export class QuotaModule {
  static forRoot(options: QuotaModuleOptions): DynamicModule {
    const ledger: Provider = { provide: SEND_LEDGER, ...options.ledger };
    return { module: QuotaModule, imports: options.imports ?? [], providers: [ledger] };
  }
}
