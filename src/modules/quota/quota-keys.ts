/**
 * Redis key names of the quota module. Every key starts with the configured prefix; the server
 * id sits in a hash tag so all keys of one server share a cluster slot (the Lua scripts touch
 * several of them at once).
 */
export const quotaKeys = {
  counter: (prefix: string, serverId: string, windowId: string): string => `${prefix}:quota:{${serverId}}:${windowId}`,
  /**
   * Which seeding a counter comes from (a random id set with it when it is seeded from the ledger):
   * a release gives a unit back only to the counter it was taken from, and only the seeder's own
   * reconciliation adds to it.
   */
  generation: (prefix: string, serverId: string, windowId: string): string => `${prefix}:quota:{${serverId}}:${windowId}:gen`,
  released: (prefix: string, serverId: string, reservationId: string): string => `${prefix}:quota:{${serverId}}:released:${reservationId}`,
  paceSlot: (prefix: string, serverId: string): string => `${prefix}:pace:{${serverId}}`,
  paceStarted: (prefix: string, serverId: string): string => `${prefix}:pace:{${serverId}}:started`,
  /** Present while a send through the server is in progress (expires if its worker dies). */
  paceInFlight: (prefix: string, serverId: string): string => `${prefix}:pace:{${serverId}}:inflight`,
  /** The sends waiting for a far slot of the server, each with the time it was told to come back. */
  paceLine: (prefix: string, serverId: string): string => `${prefix}:pace:{${serverId}}:line`,
  /** The same sends with the order they joined the line in (a number from paceLineSeq). */
  paceLineOrder: (prefix: string, serverId: string): string => `${prefix}:pace:{${serverId}}:line:order`,
  paceLineSeq: (prefix: string, serverId: string): string => `${prefix}:pace:{${serverId}}:line:seq`,
};
