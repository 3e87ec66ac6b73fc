import { type FailureMode, FakeHttpServer, type FakeReply, type RecordedRequest } from './fake-http-server';

/** A transactional email the fake accepted, flattened for assertions. */
export interface ElasticEmailAcceptedMessage {
  transactionId: string;
  messageId: string;
  from: string;
  to: string[];
  subject?: string;
  html?: string;
  text?: string;
  replyTo?: string;
  headers: Record<string, string>;
  poolName?: string;
}

export type EeDomainState = 'verified' | 'pending';
export type EeAccessLevel = 'SendHttp' | 'ViewSettings' | 'ViewWebNotifications' | 'ModifyWebNotifications';
const ALL_LEVELS: EeAccessLevel[] = ['SendHttp', 'ViewSettings', 'ViewWebNotifications', 'ModifyWebNotifications'];

/**
 * How failures are written. The v4 error body is UNCONFIRMED (PROVIDERS.md §5.2): `Error` is
 * the likely `{"Error":"..."}`, `v2` the legacy `{"success":false,"error":"..."}` (HTTP 200!),
 * `text` a plain-text body — so tests can prove the adapter copes with each.
 */
export type EeErrorShape = 'Error' | 'v2' | 'text';

export interface EeWebhook {
  WebhookID: string;
  Name: string;
  URL: string;
  NotifyOncePerEmail: boolean;
  NotificationForSent: boolean;
  NotificationForOpened: boolean;
  NotificationForClicked: boolean;
  NotificationForUnsubscribed: boolean;
  NotificationForAbuseReport: boolean;
  NotificationForError: boolean;
  IsEnabled: boolean;
  DateCreated: string;
  DateUpdated: string | null;
}

/** Local stand-in for Elastic Email REST API v4 (`/v4/...`), auth by `X-ElasticEmail-ApiKey`. */
export class ElasticEmailFake {
  /** Known keys and their access levels. */
  readonly apiKeys = new Map<string, EeAccessLevel[]>([['ee-test-key', ALL_LEVELS]]);
  readonly domains = new Map<string, EeDomainState>([['example.com', 'verified']]);
  readonly messages: ElasticEmailAcceptedMessage[] = [];
  readonly webhooks = new Map<string, EeWebhook>();
  errorShape: EeErrorShape = 'Error';
  /** false: behave like an account/API build without the newer `/v4/webhook` endpoints (404). */
  webhookApi = true;
  /** Set: creating or updating a webhook is answered this way (listing still works), until null. */
  webhookWriteFailure: FakeReply | null = null;

  private readonly http = new FakeHttpServer();
  private seq = 0;

  constructor() {
    const h = this.http;
    h.route('POST', '/v4/emails/transactional', (req) => this.authed(req, 'SendHttp', () => this.send(req)));
    h.route('GET', '/v4/domains', (req) =>
      this.authed(req, 'ViewSettings', () => ({ status: 200, body: [...this.domains.keys()].map((d) => this.detail(d)) })),
    );
    h.route('GET', '/v4/domains/:domain', (req, p) => this.authed(req, 'ViewSettings', () => this.domain(p.domain)));
    h.route('GET', '/v4/webhook', (req) =>
      this.hooks(req, 'ViewWebNotifications', () => ({ status: 200, body: [...this.webhooks.values()] })),
    );
    h.route('POST', '/v4/webhook', (req) =>
      this.hooks(req, 'ModifyWebNotifications', () => this.webhookWriteFailure ?? this.createWebhook(req)),
    );
    h.route('PUT', '/v4/webhook/:id', (req, p) =>
      this.hooks(req, 'ModifyWebNotifications', () => this.webhookWriteFailure ?? this.updateWebhook(req, p.id)),
    );
    h.route('DELETE', '/v4/webhook/:id', (req, p) =>
      this.hooks(req, 'ModifyWebNotifications', () =>
        this.webhooks.delete(p.id) ? { status: 200 } : this.error(404, 'Webhook not found'),
      ),
    );
  }

  get requests(): RecordedRequest[] {
    return this.http.requests;
  }

  fail(mode: FailureMode): void {
    this.http.fail(mode);
  }

  start(): Promise<string> {
    return this.http.start();
  }

  stop(): Promise<void> {
    return this.http.stop();
  }

  requestsTo(method: string, path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path === path);
  }

  /** An error reply in the configured shape. */
  error(status: number, message: string): FakeReply {
    if (this.errorShape === 'v2') return { status: 200, body: { success: false, error: message } };
    if (this.errorShape === 'text') return { status, body: message, headers: { 'content-type': 'text/plain' } };
    return { status, body: { Error: message } };
  }

  private authed(req: RecordedRequest, level: EeAccessLevel, handler: () => FakeReply): FakeReply {
    const levels = this.apiKeys.get(String(req.headers['x-elasticemail-apikey'] ?? ''));
    if (!levels) return this.error(401, 'Incorrect apikey');
    if (!levels.includes(level)) return this.error(403, 'Access Denied');
    return handler();
  }

  private hooks(req: RecordedRequest, level: EeAccessLevel, handler: () => FakeReply): FakeReply {
    if (!this.webhookApi) return { status: 404, body: '' };
    return this.authed(req, level, handler);
  }

  private send(req: RecordedRequest): FakeReply {
    const body = rec(req.json);
    const content = rec(body.Content);
    const to = rec(body.Recipients).To;
    const from = str(content.From);
    if (!from || !Array.isArray(to) || to.length === 0) return this.error(400, 'Recipients and From are required');
    const email = /<([^>]+)>/.exec(from)?.[1] ?? from;
    const domain = email.split('@')[1]?.toLowerCase() ?? '';
    if (this.domains.get(domain) !== 'verified') {
      return this.error(400, `Your domain ${domain} is not verified. Please verify your sender domain.`);
    }
    const parts = Array.isArray(content.Body) ? content.Body.map(rec) : [];
    const part = (type: string) => str(parts.find((p) => p.ContentType === type)?.Content);
    const n = ++this.seq;
    const accepted: ElasticEmailAcceptedMessage = {
      transactionId: `tx-${n.toString(16).padStart(8, '0')}`,
      messageId: `msg-${n}-GruPGipsdsy31TIhv3CArg2`,
      from,
      to: to.map(String),
      subject: str(content.Subject),
      html: part('HTML'),
      text: part('PlainText'),
      replyTo: str(content.ReplyTo),
      headers: Object.fromEntries(Object.entries(rec(content.Headers)).map(([k, v]) => [k, String(v)])),
      poolName: str(rec(body.Options).PoolName),
    };
    this.messages.push(accepted);
    return { status: 200, body: { TransactionID: accepted.transactionId, MessageID: accepted.messageId } };
  }

  private domain(name: string): FakeReply {
    if (!this.domains.has(name.toLowerCase())) return this.error(404, `Domain ${name} not found`);
    return { status: 200, body: this.detail(name.toLowerCase()) };
  }

  private detail(name: string): Record<string, unknown> {
    const ok = this.domains.get(name) === 'verified';
    return {
      Domain: name,
      DefaultDomain: false,
      Spf: ok,
      Dkim: ok,
      MX: ok,
      DMARC: false,
      IsRewriteDomainValid: false,
      Verify: ok,
      Type: 'None',
      TrackingStatus: 'Validated',
      Ownership: ok ? 'Verified' : 'None',
    };
  }

  private updateWebhook(req: RecordedRequest, id: string): FakeReply {
    const existing = this.webhooks.get(id);
    if (!existing) return this.error(404, 'Webhook not found');
    const b = rec(req.json);
    const updated: EeWebhook = { ...existing, DateUpdated: new Date().toISOString() };
    if (typeof b.Name === 'string') updated.Name = b.Name;
    if (typeof b.URL === 'string') updated.URL = b.URL;
    for (const k of FLAGS) if (typeof b[k] === 'boolean') updated[k] = b[k] as boolean;
    this.webhooks.set(id, updated);
    return { status: 200, body: updated };
  }

  private createWebhook(req: RecordedRequest): FakeReply {
    const b = rec(req.json);
    const name = str(b.Name);
    const url = str(b.URL);
    if (!name || !url) return this.error(400, 'Name and URL are required');
    const flag = (k: string) => b[k] === true;
    const hook: EeWebhook = {
      WebhookID: `whk${++this.seq}`,
      Name: name,
      URL: url,
      NotifyOncePerEmail: flag('NotifyOncePerEmail'),
      NotificationForSent: flag('NotificationForSent'),
      NotificationForOpened: flag('NotificationForOpened'),
      NotificationForClicked: flag('NotificationForClicked'),
      NotificationForUnsubscribed: flag('NotificationForUnsubscribed'),
      NotificationForAbuseReport: flag('NotificationForAbuseReport'),
      NotificationForError: flag('NotificationForError'),
      IsEnabled: true,
      DateCreated: new Date().toISOString(),
      DateUpdated: null,
    };
    this.webhooks.set(hook.WebhookID, hook);
    // The response of POST /v4/webhook is UNCONFIRMED; the created Webhook is the likely answer.
    return { status: 201, body: hook };
  }
}

const FLAGS = [
  'NotifyOncePerEmail',
  'NotificationForSent',
  'NotificationForOpened',
  'NotificationForClicked',
  'NotificationForUnsubscribed',
  'NotificationForAbuseReport',
  'NotificationForError',
  'IsEnabled',
] as const;

function rec(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
