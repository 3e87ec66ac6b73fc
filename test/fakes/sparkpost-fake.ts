import { type FailureMode, FakeHttpServer, type FakeReply, type RecordedRequest } from './fake-http-server';

/** A transmission the fake accepted, flattened for assertions. */
export interface SparkPostAcceptedMessage {
  id: string;
  from: string;
  fromName?: string;
  to: string[];
  subject?: string;
  html?: string;
  text?: string;
  replyTo?: string;
  headers: Record<string, string>;
  ipPool?: string;
}

export type SendingDomainState = 'verified' | 'pending' | 'blocked';

export interface SparkPostWebhook {
  id: string;
  name: string;
  target: string;
  events: string[];
  active: boolean;
  auth_type: string;
  auth_credentials?: { username: string; password: string };
}

/** Error bodies exactly as PROVIDERS.md §4.2 records them. */
export const SPARKPOST_BODIES = {
  unauthorized: { errors: [{ message: 'Unauthorized.' }] },
  forbidden: { errors: [{ message: 'Forbidden.' }] },
  unverifiedDomain: {
    errors: [{ description: 'Unconfigured or unverified sending domain.', code: '7001', message: 'Invalid domain' }],
  },
  sendingLimit: { errors: [{ message: 'Exceed Sending Limit (hourly)', code: '2101' }] },
  missingContent: {
    errors: [{ message: 'required field is missing', description: 'content object or template_id required', code: '1400' }],
  },
  rateLimited: { errors: [{ message: 'Too many requests' }] },
  serverError: { errors: [{ message: 'Internal server error' }] },
} as const;

/**
 * Local stand-in for SparkPost API v1 (`/api/v1/...`): raw-key or Basic auth, transmissions,
 * account, sending domains and webhooks, answering with the documented statuses and bodies.
 */
export class SparkPostFake {
  /** Keys SparkPost knows; keys also in `sendOnlyKeys` get 403 outside transmissions. */
  readonly apiKeys = new Set<string>(['sp-test-key']);
  readonly sendOnlyKeys = new Set<string>();
  readonly sendingDomains = new Map<string, SendingDomainState>([['example.com', 'verified']]);
  readonly messages: SparkPostAcceptedMessage[] = [];
  readonly webhooks = new Map<string, SparkPostWebhook>();
  /** Sends left before 420 "Exceed Sending Limit"; undefined: no limit. */
  sendingLimit?: number;
  /** SparkPost pings a new webhook's target and refuses the webhook when it does not answer 200. */
  pingWebhookTargets = true;
  /**
   * Set: a webhook create still makes the webhook, then answers this instead of its id (a 5xx
   * after SparkPost made it, or a 200 without the id), as a create whose answer went wrong does.
   */
  createdWebhookReply?: FakeReply;

  private readonly http = new FakeHttpServer();
  private nextId = 11668787484950529n;

  constructor() {
    const h = this.http;
    h.route('POST', '/api/v1/transmissions', (req) => this.authed(req, true, () => this.transmit(req)));
    h.route('GET', '/api/v1/account', (req) => this.authed(req, false, () => ({ status: 200, body: ACCOUNT })));
    h.route('GET', '/api/v1/sending-domains/:domain', (req, p) => this.authed(req, false, () => this.domain(p.domain)));
    h.route('GET', '/api/v1/webhooks', (req) =>
      this.authed(req, false, () => ({ status: 200, body: { results: [...this.webhooks.values()].map(publicWebhook) } })),
    );
    h.route('POST', '/api/v1/webhooks', (req) => this.authed(req, false, () => this.createWebhook(req)));
    h.route('PUT', '/api/v1/webhooks/:id', (req, p) => this.authed(req, false, () => this.updateWebhook(req, p.id)));
    h.route('DELETE', '/api/v1/webhooks/:id', (req, p) => this.authed(req, false, () => this.deleteWebhook(p.id)));
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

  /** Requests to one path, e.g. `/api/v1/transmissions`. */
  requestsTo(method: string, path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path === path);
  }

  // SparkPost accepts the raw key as Authorization, or Basic base64(key + ':').
  private authed(req: RecordedRequest, sending: boolean, handler: () => FakeReply | Promise<FakeReply>) {
    const header = String(req.headers.authorization ?? '');
    const basic = /^Basic\s+(.+)$/i.exec(header);
    const key = basic ? Buffer.from(basic[1], 'base64').toString('utf8').replace(/:$/, '') : header;
    if (!this.apiKeys.has(key)) return { status: 401, body: SPARKPOST_BODIES.unauthorized };
    if (!sending && this.sendOnlyKeys.has(key)) return { status: 403, body: SPARKPOST_BODIES.forbidden };
    return handler();
  }

  private transmit(req: RecordedRequest): FakeReply {
    const body = rec(req.json);
    const content = rec(body.content);
    const options = rec(body.options);
    if (!body.content) return { status: 422, body: SPARKPOST_BODIES.missingContent };
    const from = address(content.from);
    const domain = from.email.split('@')[1]?.toLowerCase() ?? '';
    if (this.sendingDomains.get(domain) !== 'verified') return { status: 400, body: SPARKPOST_BODIES.unverifiedDomain };
    if (this.sendingLimit !== undefined) {
      if (this.sendingLimit <= 0) return { status: 420, body: SPARKPOST_BODIES.sendingLimit };
      this.sendingLimit -= 1;
    }
    const recipients = Array.isArray(body.recipients) ? body.recipients.map((r) => address(rec(r).address).email) : [];
    const id = String(this.nextId++);
    this.messages.push({
      id,
      from: from.email,
      fromName: from.name,
      to: recipients,
      subject: str(content.subject),
      html: str(content.html),
      text: str(content.text),
      replyTo: str(content.reply_to),
      headers: Object.fromEntries(Object.entries(rec(content.headers)).map(([k, v]) => [k, String(v)])),
      ipPool: str(options.ip_pool),
    });
    return {
      status: 200,
      body: { results: { total_rejected_recipients: 0, total_accepted_recipients: recipients.length, id } },
    };
  }

  private domain(name: string): FakeReply {
    const state = this.sendingDomains.get(name.toLowerCase());
    if (!state) {
      return {
        status: 404,
        body: { errors: [{ message: 'resource not found', code: '1600', description: `Sending domain '${name}' does not exist` }] },
      };
    }
    const verified = state !== 'pending';
    return {
      status: 200,
      body: {
        results: {
          tracking_domain: `click.${name}`,
          status: {
            ownership_verified: verified,
            spf_status: 'unverified',
            abuse_at_status: 'unverified',
            dkim_status: verified ? 'valid' : 'pending',
            cname_status: 'unverified',
            mx_status: 'unverified',
            compliance_status: state === 'blocked' ? 'blocked' : 'valid',
            postmaster_at_status: 'unverified',
            verification_mailbox_status: 'unverified',
          },
          dkim: { headers: 'from:to:subject:date', public: 'MIGf...', selector: 'scph0123' },
          shared_with_subaccounts: false,
          is_default_bounce_domain: false,
        },
      },
    };
  }

  private async createWebhook(req: RecordedRequest): Promise<FakeReply> {
    const body = rec(req.json);
    const target = str(body.target);
    if (!target || !str(body.name) || !Array.isArray(body.events)) {
      return { status: 422, body: { errors: [{ message: 'required field is missing', code: '1400' }] } };
    }
    const refused = await this.ping(target, body);
    if (refused) return refused;
    const id = `wh-${this.webhooks.size + 1}-${Date.now().toString(36)}`;
    this.webhooks.set(id, toWebhook(id, body));
    if (this.createdWebhookReply) return this.createdWebhookReply;
    return { status: 200, body: { results: { id, links: [{ href: `/api/v1/webhooks/${id}`, rel: 'urn.msys.webhooks.webhook', method: ['GET', 'PUT'] }] } } };
  }

  private async updateWebhook(req: RecordedRequest, id: string): Promise<FakeReply> {
    const existing = this.webhooks.get(id);
    if (!existing) return { status: 404, body: { errors: [{ message: 'resource not found', code: '1600' }] } };
    const merged = { ...existing, ...rec(req.json) };
    const refused = await this.ping(merged.target, merged);
    if (refused) return refused;
    this.webhooks.set(id, toWebhook(id, merged));
    return { status: 200, body: { results: { id, links: [] } } };
  }

  private deleteWebhook(id: string): FakeReply {
    if (!this.webhooks.delete(id)) return { status: 404, body: { errors: [{ message: 'resource not found', code: '1600' }] } };
    return { status: 204 };
  }

  /** The `[{"msys":{}}]` test batch SparkPost posts to a target before accepting it. */
  private async ping(target: string, body: Record<string, unknown>): Promise<FakeReply | undefined> {
    if (!this.pingWebhookTargets) return undefined;
    const creds = rec(body.auth_credentials);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (body.auth_type === 'basic') {
      headers.authorization = `Basic ${Buffer.from(`${str(creds.username)}:${str(creds.password)}`).toString('base64')}`;
    }
    let status = 0;
    try {
      const res = await fetch(target, { method: 'POST', headers, body: '[{"msys":{}}]', signal: AbortSignal.timeout(2000) });
      status = res.status;
      await res.arrayBuffer();
    } catch {
      status = 0;
    }
    if (status === 200) return undefined;
    return {
      status: 400,
      body: { errors: [{ message: 'invalid data format/type', description: `Target ${target} returned ${status || 'no answer'}`, code: '1300' }] },
    };
  }
}

const ACCOUNT = {
  results: {
    customer_id: 102938,
    company_name: 'Example Inc',
    status: 'active',
    subscription: { code: '150K-0817', name: '150K', plan_volume: 150000 },
    options: {},
  },
};

function toWebhook(id: string, body: Record<string, unknown>): SparkPostWebhook {
  const creds = rec(body.auth_credentials);
  return {
    id,
    name: str(body.name) ?? '',
    target: str(body.target) ?? '',
    events: Array.isArray(body.events) ? body.events.map(String) : [],
    active: body.active !== false,
    auth_type: str(body.auth_type) ?? 'none',
    auth_credentials: body.auth_type === 'basic' ? { username: str(creds.username) ?? '', password: str(creds.password) ?? '' } : undefined,
  };
}

// The list shows auth_type but not the stored password (a real API would not echo secrets).
function publicWebhook(w: SparkPostWebhook): Omit<SparkPostWebhook, 'auth_credentials'> {
  const { auth_credentials: _hidden, ...rest } = w;
  return rest;
}

function address(v: unknown): { email: string; name?: string } {
  if (typeof v === 'string') {
    const m = /<([^>]+)>/.exec(v);
    return { email: (m ? m[1] : v).trim() };
  }
  const r = rec(v);
  return { email: str(r.email) ?? '', name: str(r.name) };
}

function rec(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
