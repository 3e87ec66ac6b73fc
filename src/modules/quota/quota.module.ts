import { type DynamicModule, type InjectionToken, Module, type ModuleMetadata, type Provider, type Type } from '@nestjs/common';
import { PacingService } from './pacing.service';
import { QuotaService } from './quota.service';
import { EmptySendLedger, SEND_LEDGER, type SendLedger } from './send-ledger';

/** Where QuotaService finds the record of sends it rebuilds lost counters from. */
export type SendLedgerProvider = { useClass: Type<SendLedger> } | { useExisting: InjectionToken } | { useValue: SendLedger };

export interface QuotaModuleOptions {
  /** The real ledger (PostgreSQL, from the messages module); an empty one when left out. */
  ledger?: SendLedgerProvider;
  /** Modules the ledger needs (e.g. one exporting the messages ledger for `useExisting`). */
  imports?: ModuleMetadata['imports'];
}

/**
 * Quota counters and pause pacing. Needs the global REDIS client and APP_CONFIG.
 *
 * `imports: [QuotaModule]` gives the services with an empty SendLedger (lost counters restart
 * at 0). Once the messages module has its PostgreSQL ledger, AppModule imports
 * `QuotaModule.forRoot({ imports: [SendLedgerModule], ledger: { useExisting: PgSendLedger } })`
 * instead; keep that ledger in a module that does not import QuotaModule itself, or the two
 * modules import each other.
 */
@Module({
  providers: [QuotaService, PacingService, { provide: SEND_LEDGER, useClass: EmptySendLedger }],
  exports: [QuotaService, PacingService],
})
export class QuotaModule {
  static forRoot(options: QuotaModuleOptions = {}): DynamicModule {
    const ledger: Provider = { provide: SEND_LEDGER, ...(options.ledger ?? { useClass: EmptySendLedger }) };
    // Listed after the decorator's providers, so this SEND_LEDGER replaces the empty default.
    return { module: QuotaModule, imports: options.imports ?? [], providers: [ledger] };
  }
}
