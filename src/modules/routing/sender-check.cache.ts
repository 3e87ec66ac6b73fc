import type { SenderCheck } from '../../providers/provider.types';

const TTL_MS = 5 * 60_000;
const MAX_ENTRIES = 10_000;

/**
 * Sender verification answers per server and From, kept briefly: asking the provider for every
 * message would cost a round trip each. The key holds the server's updatedAt, so any change to
 * the server (credentials, sender) makes old answers unreachable at once.
 */
export class SenderCheckCache {
  private readonly entries = new Map<string, { check: SenderCheck; expiresAt: number }>();

  static key(serverId: string, updatedAt: Date, from: string): string {
    return `${serverId}:${updatedAt.getTime()}:${from.toLowerCase()}`;
  }

  get(key: string, now = Date.now()): SenderCheck | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.check;
  }

  set(key: string, check: SenderCheck, now = Date.now()): void {
    // Oldest first out: Map keeps insertion order.
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { check, expiresAt: now + TTL_MS });
  }
}
