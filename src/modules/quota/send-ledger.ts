/**
 * The record of sends that quota counters are rebuilt from when Redis has lost them. The
 * messages module implements it over PostgreSQL (every send stored with its server id and sent
 * time) and plugs it in with `QuotaModule.forRoot({ ledger })`.
 */
export interface SendLedger {
  /** Sends through `serverId` whose sent time is in [from, to). */
  countSends(serverId: string, from: Date, to: Date): Promise<number>;
}

export const SEND_LEDGER = Symbol('SEND_LEDGER');

/**
 * The default until the messages module provides the real ledger: no recorded sends, so a lost
 * counter restarts at zero (what the counters did before the ledger existed).
 */
export class EmptySendLedger implements SendLedger {
  countSends(): Promise<number> {
    return Promise.resolve(0);
  }
}
