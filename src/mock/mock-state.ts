import type { MockContext, MockViewer } from './mock-auth';
import { forbidden, notFound, unauthenticated } from './mock-errors';
import { iso, uuidSequence } from './mock-ids';
import type { AccountRecord, CampaignRecord, MessageRecord, MockData, ServerRecord, TokenRecord } from './mock-records';
import { seedMockData, type SeededRoles } from './mock-seed';
import { isUuid } from './mock-validation';

export interface MockStateOptions {
  /** Changes every id of the data set; the same seed gives the same ids on every run. Default "mailroute". */
  seed?: string;
  /** The clock; the data set is placed relative to it when the mock is built. Default: the real clock. */
  now?: () => Date;
}

/**
 * One mock instance's data and the tenancy rules over it. Mutations change this state, so a
 * created account appears in `accounts` afterwards; a new mock (or a restart) starts again
 * from the seed.
 */
export class MockState {
  readonly data: MockData;
  private readonly roles: SeededRoles;
  private readonly newId: () => string;
  private readonly clock: () => Date;
  private readonly viewers = new WeakMap<object, MockViewer>();
  /** Secrets of tokens revokeApiToken removed: they authenticate no more. */
  private readonly revoked = new Set<string>();

  constructor(options: MockStateOptions = {}) {
    this.newId = uuidSequence(options.seed ?? 'mailroute');
    this.clock = options.now ?? (() => new Date());
    const seeded = seedMockData(this.newId, this.clock().getTime());
    this.data = seeded.data;
    this.roles = seeded.roles;
  }

  id(): string {
    return this.newId();
  }

  now(): number {
    return this.clock().getTime();
  }

  nowIso(): string {
    return iso(this.now());
  }

  /** The caller, from the context's token (see mock-auth.ts); UNAUTHENTICATED without one. */
  viewerOf(ctx: MockContext | undefined): MockViewer {
    const cached = ctx && this.viewers.get(ctx);
    if (cached) return cached;
    const token = ctx?.token?.trim();
    if (!token) throw unauthenticated('A bearer token is required: pass createMockContext(token) as the context');
    if (this.revoked.has(token)) throw unauthenticated('The bearer token is not valid (unknown or revoked)');
    const viewer = this.viewerForToken(token);
    if (ctx) this.viewers.set(ctx, viewer);
    return viewer;
  }

  private viewerForToken(token: string): MockViewer {
    const issued = this.data.tokens.find((t) => t.secret === token);
    if (issued) return issued.accountId ? this.accountViewer(issued.accountId) : { role: 'ADMIN' };
    const lower = token.toLowerCase();
    if (lower.startsWith('admin')) return { role: 'ADMIN' };
    return this.accountViewer(lower.startsWith('sub') ? this.roles.subAccountId : this.roles.agencyId);
  }

  private accountViewer(accountId: string): MockViewer {
    const account = this.accountById(accountId);
    return { role: 'ACCOUNT', accountId, isAgency: !account?.parentId };
  }

  revoke(token: TokenRecord): void {
    if (token.secret) this.revoked.add(token.secret);
    this.data.tokens = this.data.tokens.filter((t) => t !== token);
  }

  /** ADMIN reaches everything; an account token its account, and an agency's token also its sub-accounts. */
  canReach(viewer: MockViewer, account: AccountRecord): boolean {
    if (viewer.role === 'ADMIN') return true;
    return account.id === viewer.accountId || (viewer.isAgency && account.parentId === viewer.accountId);
  }

  requireAdmin(viewer: MockViewer, message: string): void {
    if (viewer.role !== 'ADMIN') throw forbidden(message);
  }

  accountById(id: string | null): AccountRecord | null {
    return this.data.accounts.find((a) => a.id === id) ?? null;
  }

  serverById(id: string | null): ServerRecord | null {
    return this.data.servers.find((s) => s.id === id) ?? null;
  }

  /** What the viewer cannot reach answers NOT_FOUND exactly like what does not exist, so other tenants' ids leak nothing. */
  account(viewer: MockViewer, id: string): AccountRecord {
    const account = isUuid(id) ? this.accountById(id) : null;
    if (!account || !this.canReach(viewer, account)) throw notFound('Account', id);
    return account;
  }

  /** May the viewer see this server's settings and change it? Platform servers: ADMIN only. */
  manages(viewer: MockViewer, server: ServerRecord): boolean {
    if (viewer.role === 'ADMIN') return true;
    const owner = this.accountById(server.accountId);
    return owner !== null && this.canReach(viewer, owner);
  }

  server(viewer: MockViewer, id: string): ServerRecord {
    const server = this.serverById(id);
    if (!server || !this.manages(viewer, server)) throw notFound('Delivery server', id);
    return server;
  }

  campaign(viewer: MockViewer, id: string): CampaignRecord {
    const campaign = this.data.campaigns.find((c) => c.id === id);
    const owner = campaign && this.accountById(campaign.accountId);
    if (!campaign || !owner || !this.canReach(viewer, owner)) throw notFound('Campaign', id);
    return campaign;
  }

  message(viewer: MockViewer, id: string): MessageRecord {
    const message = this.data.messages.find((m) => m.id === id);
    const owner = message && this.accountById(message.accountId);
    if (!message || !owner || !this.canReach(viewer, owner)) throw notFound('Message', id);
    return message;
  }

  token(viewer: MockViewer, id: string): TokenRecord {
    const token = this.data.tokens.find((t) => t.id === id);
    const owner = token && this.accountById(token.accountId);
    if (!token || (viewer.role !== 'ADMIN' && (!owner || !this.canReach(viewer, owner)))) throw notFound('API token', id);
    return token;
  }
}
