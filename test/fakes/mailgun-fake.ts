import { createHmac, randomBytes } from 'node:crypto';
import { FakeHttpServer, type FailureMode, type FakeReply, type RecordedRequest } from './fake-http-server';

export interface MailgunAcceptedMessage {
  providerMessageId: string;
  domain: string;
  from: string;
  to: string[];
  subject: string;
  text?: string;
  html?: string;
  replyTo?: string;
  /** `h:` fields without the prefix (Reply-To included). */
  headers: Record<string, string>;
}

export type MailgunDomainState = 'active' | 'unverified' | 'disabled';

export interface MailgunFakeOptions {
  apiKeys?: string[];
  signingKey?: string;
  domains?: Record<string, MailgunDomainState>;
}

const EVENT_IDS = new Set([
  'accepted',
  'clicked',
  'complained',
  'delivered',
  'opened',
  'permanent_fail',
  'temporary_fail',
  'unsubscribed',
]);

/** Mailgun's 401 is the bare text "Forbidden" (PROVIDERS.md §3.2). */
const FORBIDDEN: FakeReply = { status: 401, body: 'Forbidden', headers: { 'content-type': 'text/plain' } };

/**
 * Local Mailgun (PROVIDERS.md §3): Basic api:<key> auth, multipart POST /v3/{domain}/messages,
 * GET /v4/domains[/{name}] and /v3/domains[/{name}], Mailgun's error bodies.
 */
export class MailgunFake extends FakeHttpServer {
  apiKeys: Set<string>;
  domains: Map<string, MailgunDomainState>;
  readonly accepted: MailgunAcceptedMessage[] = [];
  /** Domain webhooks: domain → event id → URLs (v3 API, up to 3 URLs per event). */
  readonly webhooks = new Map<string, Map<string, string[]>>();
  signingKey: string;

  static throttled(retrySeconds: number): FailureMode {
    return {
      kind: 'status',
      status: 429,
      body: { message: 'Too many requests', 'retry-seconds': retrySeconds },
      headers: { 'Retry-After': String(retrySeconds) },
    };
  }

  /** The 420 Mailgun sends when a domain's sending limit is used up. */
  static limitReached(domain: string, until: Date): FailureMode {
    return {
      kind: 'status',
      status: 420,
      body: {
        message: `Domain ${domain} is not allowed to send: recipient limit exceeded, try again after ${until.toUTCString()}`,
      },
    };
  }

  static serverError(status = 500): FailureMode {
    return { kind: 'status', status, body: { message: 'Internal Server Error' } };
  }

  constructor(options: MailgunFakeOptions = {}) {
    super();
    this.apiKeys = new Set(options.apiKeys ?? ['key-test']);
    this.domains = new Map(Object.entries(options.domains ?? { 'mg.example.com': 'active' }));
    this.signingKey = options.signingKey ?? 'signing-key-test';

    this.route('POST', '/v3/:domain/messages', (req, p) => this.authed(req, () => this.messages(req, p.domain)));
    for (const version of ['v3', 'v4']) {
      this.route('GET', `/${version}/domains`, (req) =>
        this.authed(req, () => {
          const items = [...this.domains.keys()].map((name) => this.domainBody(name));
          return { status: 200, body: { items, total_count: items.length } };
        }),
      );
      this.route('GET', `/${version}/domains/:name`, (req, p) =>
        this.authed(req, () => {
          if (!this.domains.has(p.name)) return { status: 404, body: { message: 'Domain not found' } };
          return {
            status: 200,
            body: { domain: this.domainBody(p.name), receiving_dns_records: [], sending_dns_records: [] },
          };
        }),
      );
    }
    this.webhookRoutes();
  }

  /** The webhook list of one domain (created on first use). */
  hooksOf(domain: string): Map<string, string[]> {
    let hooks = this.webhooks.get(domain);
    if (!hooks) this.webhooks.set(domain, (hooks = new Map()));
    return hooks;
  }

  /** A webhook post as Mailgun signs it: hex HMAC-SHA256(signing key, timestamp + token) in the body. */
  signedPost(eventData: Record<string, unknown>, opts: { timestamp?: string; key?: string } = {}) {
    const timestamp = opts.timestamp ?? String(Math.floor(Date.now() / 1000));
    const token = randomBytes(25).toString('hex');
    const signature = createHmac('sha256', opts.key ?? this.signingKey)
      .update(timestamp + token)
      .digest('hex');
    return {
      rawBody: Buffer.from(JSON.stringify({ signature: { timestamp, token, signature }, 'event-data': eventData })),
      url: '/webhooks/mailgun/x',
      headers: { 'content-type': 'application/json' } as Record<string, string>,
    };
  }

  private webhookRoutes(): void {
    const base = '/v3/domains/:domain/webhooks';
    const notFound: FakeReply = { status: 404, body: { message: 'Webhook not found' } };
    this.route('GET', base, (req, p) =>
      this.authed(req, () => {
        if (!this.domains.has(p.domain)) return { status: 404, body: { message: 'Domain not found' } };
        const webhooks = Object.fromEntries([...this.hooksOf(p.domain)].map(([id, urls]) => [id, { urls: [...urls] }]));
        return { status: 200, body: { webhooks } };
      }),
    );
    this.route('GET', `${base}/:id`, (req, p) =>
      this.authed(req, () => {
        const urls = this.hooksOf(p.domain).get(p.id);
        return urls ? { status: 200, body: { webhook: { urls: [...urls] } } } : notFound;
      }),
    );
    this.route('POST', base, (req, p) =>
      this.authed(req, async () => {
        const form = await parseForm(req);
        const id = form.get('id') ?? '';
        const urls = form.getAll('url');
        if (!EVENT_IDS.has(id) || urls.length === 0 || urls.length > 3)
          return { status: 400, body: { message: 'Invalid webhook' } };
        const hooks = this.hooksOf(p.domain);
        if (hooks.has(id)) return { status: 400, body: { message: `Webhook with id ${id} already exists` } };
        hooks.set(id, urls);
        return { status: 200, body: { message: 'Webhook has been created', webhook: { urls } } };
      }),
    );
    this.route('PUT', `${base}/:id`, (req, p) =>
      this.authed(req, async () => {
        const hooks = this.hooksOf(p.domain);
        if (!hooks.has(p.id)) return notFound;
        const urls = (await parseForm(req)).getAll('url');
        if (urls.length === 0 || urls.length > 3) return { status: 400, body: { message: 'Invalid webhook' } };
        hooks.set(p.id, urls);
        return { status: 200, body: { message: 'Webhook has been updated', webhook: { urls } } };
      }),
    );
    this.route('DELETE', `${base}/:id`, (req, p) =>
      this.authed(req, () => {
        const hooks = this.hooksOf(p.domain);
        const urls = hooks.get(p.id);
        if (!urls) return notFound;
        hooks.delete(p.id);
        return { status: 200, body: { message: 'Webhook has been deleted', webhook: { urls } } };
      }),
    );
    this.route('GET', '/v5/accounts/http_signing_key', (req) =>
      this.authed(req, () => ({ status: 200, body: { http_signing_key: this.signingKey } })),
    );
  }

  private authed(req: RecordedRequest, handler: () => FakeReply | Promise<FakeReply>): FakeReply | Promise<FakeReply> {
    const auth = String(req.headers.authorization ?? '');
    const decoded = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString('utf8') : '';
    const [user, ...rest] = decoded.split(':');
    if (user !== 'api' || !this.apiKeys.has(rest.join(':'))) return FORBIDDEN;
    return handler();
  }

  private async messages(req: RecordedRequest, domain: string): Promise<FakeReply> {
    const state = this.domains.get(domain);
    if (!state) return { status: 404, body: { message: `Domain not found: ${domain}` } };
    if (state !== 'active') {
      return {
        status: 403,
        body: {
          message: `Domain ${domain} is not allowed to send: The domain is unverified and requires DNS configuration. Log in to your control panel to view required DNS records.`,
        },
      };
    }
    const form = await parseForm(req);
    const from = form.get('from');
    const to = form.getAll('to');
    if (!from || to.length === 0)
      return { status: 400, body: { message: `'${from ? 'to' : 'from'}' parameter is missing` } };
    const headers: Record<string, string> = {};
    for (const [key, value] of form.entries()) if (key.startsWith('h:')) headers[key.slice(2)] = value;
    const id = `<${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}.${randomBytes(8).toString('hex')}@${domain}>`;
    this.accepted.push({
      providerMessageId: id,
      domain,
      from,
      to,
      subject: form.get('subject') ?? '',
      text: form.get('text'),
      html: form.get('html'),
      replyTo: headers['Reply-To'],
      headers,
    });
    return { status: 200, body: { id, message: 'Queued. Thank you.' } };
  }

  private domainBody(name: string): Record<string, unknown> {
    return {
      created_at: 'Tue, 14 Jul 2015 19:13:04 GMT',
      id: Buffer.from(name).toString('hex').slice(0, 24),
      is_disabled: this.domains.get(name) === 'disabled',
      name,
      require_tls: false,
      skip_verification: false,
      smtp_login: `postmaster@${name}`,
      spam_action: 'disabled',
      state: this.domains.get(name),
      type: 'custom',
      web_prefix: 'email',
      web_scheme: 'https',
      wildcard: false,
    };
  }
}

/** Multipart or urlencoded form fields (files ignored), via the platform's own parser. */
interface ParsedForm {
  get(key: string): string | undefined;
  getAll(key: string): string[];
  entries(): [string, string][];
}
async function parseForm(req: RecordedRequest): Promise<ParsedForm> {
  const contentType = String(req.headers['content-type'] ?? '');
  const data = await new Response(req.rawBody, { headers: { 'content-type': contentType } }).formData();
  const pairs: [string, string][] = [];
  data.forEach((value, key) => {
    if (typeof value === 'string') pairs.push([key, value]);
  });
  return {
    get: (key) => pairs.find(([k]) => k === key)?.[1],
    getAll: (key) => pairs.filter(([k]) => k === key).map(([, v]) => v),
    entries: () => pairs,
  };
}
