/**
 * The record of sends that quota counters are rebuilt from when Redis has lost them. The
 * messages module implements it over PostgreSQL (every send stored with its server id and sent
 * time) and plugs it in with `QuotaModule.forRoot({ ledger })`.
 */
export interface SendLedger {
  /**
   * Sends through `serverId` whose sent time (when the attempt began) is in [from, to), and the
   * ledger's own clock when it counted: every send recorded by then has a sent time before it.
   */
  countSends(serverId: string, from: Date, to: Date): Promise<LedgerCount>;
}

export interface LedgerCount {
  sends: number;
  at: Date;
}

export const SEND_LEDGER = Symbol('SEND_LEDGER');

/**
 * The default until the messages module provides the real ledger: no recorded sends, so a lost
 * counter restarts at zero (what the counters did before the ledger existed).
 */
export class EmptySendLedger implements SendLedger {
  countSends(): Promise<LedgerCount> {
    return Promise.resolve({ sends: 0, at: new Date() });
  }
}
