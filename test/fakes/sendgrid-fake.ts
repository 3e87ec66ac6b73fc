import { generateKeyPairSync, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto';
import { FakeHttpServer, type FailureMode, type FakeReply, type RecordedRequest } from './fake-http-server';

/** A message the fake accepted, in a form tests can assert on. */
export interface SendGridAcceptedMessage {
  providerMessageId: string;
  from: string;
  to: string[];
  subject: string;
  text?: string;
  html?: string;
  replyTo?: string;
  headers: Record<string, string>;
}

/** One event webhook as the multiple-webhooks API stores it (plus the signing key pair). */
export interface SendGridFakeWebhook {
  id: string;
  url: string;
  enabled: boolean;
  friendly_name: string | null;
  settings: Record<string, unknown>;
  publicKey?: string;
  privateKey?: KeyObject;
}

export interface SendGridFakeOptions {
  apiKeys?: string[];
  scopes?: string[];
  verifiedSenders?: { email: string; verified: boolean }[];
  authenticatedDomains?: { domain: string; valid: boolean }[];
}

const BAD_KEY = {
  errors: [{ message: 'The provided authorization grant is invalid, expired, or revoked', field: null, help: null }],
};
const UNVERIFIED_SENDER = {
  errors: [
    {
      message:
        'The from address does not match a verified Sender Identity. Mail cannot be sent until this error is resolved. Visit https://sendgrid.com/docs/for-developers/sending-email/sender-identity/ to see the Sender Identity requirements',
      field: 'from',
      help: null,
    },
  ],
};

/**
 * Local SendGrid v3 (PROVIDERS.md §2): Bearer auth, POST /v3/mail/send → 202 + X-Message-Id,
 * GET /v3/scopes, /v3/verified_senders, /v3/whitelabel/domains, with SendGrid's error bodies.
 */
export class SendGridFake extends FakeHttpServer {
  apiKeys: Set<string>;
  scopes: string[];
  verifiedSenders: { email: string; verified: boolean }[];
  authenticatedDomains: { domain: string; valid: boolean }[];
  readonly accepted: SendGridAcceptedMessage[] = [];
  /** The account's event webhooks, ours and the customer's. */
  readonly webhooks = new Map<string, SendGridFakeWebhook>();
  maxWebhooks = 5;

  /** 429 as SendGrid documents it, plus a Retry-After so clients can be told when to come back. */
  static throttled(retryAfterSeconds: number): FailureMode {
    return {
      kind: 'status',
      status: 429,
      body: { errors: [{ field: null, message: 'too many requests' }] },
      headers: {
        'Retry-After': String(retryAfterSeconds),
        'X-RateLimit-Limit': '600',
        'X-RateLimit-Remaining': '0',
        'X-RateLimit-Reset': String(Math.ceil(Date.now() / 1000) + retryAfterSeconds),
      },
    };
  }

  static serverError(status = 503): FailureMode {
    return { kind: 'status', status, body: { errors: [{ field: null, message: 'Service Unavailable' }] } };
  }

  constructor(options: SendGridFakeOptions = {}) {
    super();
    this.apiKeys = new Set(options.apiKeys ?? ['SG.test-key']);
    this.scopes = options.scopes ?? ['mail.send', 'sender_verification_eligible', 'whitelabel.read'];
    this.verifiedSenders = options.verifiedSenders ?? [];
    this.authenticatedDomains = options.authenticatedDomains ?? [];

    this.route('POST', '/v3/mail/send', (req) => this.authed(req, () => this.mailSend(req)));
    this.route('GET', '/v3/scopes', (req) =>
      this.authed(req, () => ({ status: 200, body: { scopes: this.scopes } }), {
        errors: [{ field: null, message: 'authorization required' }],
      }),
    );
    // Pages as SendGrid's does: `limit` entries whose id follows `lastSeenID`.
    this.route('GET', '/v3/verified_senders', (req) =>
      this.authed(req, () => {
        const limit = Number(req.query.get('limit') ?? 100);
        const after = Number(req.query.get('lastSeenID') ?? 0);
        const all = this.verifiedSenders.map((s, i) => ({
          id: i + 1,
          nickname: s.email,
          from_email: s.email,
          from_name: 'Sender',
          reply_to: s.email,
          verified: s.verified,
          locked: false,
        }));
        return { status: 200, body: { results: all.filter((s) => s.id > after).slice(0, limit) } };
      }),
    );
    this.route('GET', '/v3/whitelabel/domains', (req) =>
      this.authed(req, () => {
        // A key without the scope is refused as SendGrid refuses it.
        if (!this.scopes.includes('whitelabel.read')) return { status: 403, body: { errors: [{ field: null, message: 'access forbidden' }] } };
        const only = req.query.get('domain');
        const list = this.authenticatedDomains.filter((d) => !only || d.domain === only);
        return {
          status: 200,
          body: list.map((d, i) => ({
            id: i + 1,
            domain: d.domain,
            subdomain: 'em123',
            username: 'fake',
            valid: d.valid,
          })),
        };
      }),
    );

    // Multiple event webhooks (PROVIDERS.md §2.4). "/all" and "/signed/:id" before "/:id".
    const base = '/v3/user/webhooks/event/settings';
    this.route('GET', `${base}/all`, (req) =>
      this.authed(req, () => ({
        status: 200,
        body: { max_allowed: this.maxWebhooks, webhooks: [...this.webhooks.values()].map(webhookBody) },
      })),
    );
    this.route('POST', base, (req) => this.authed(req, () => this.createWebhook(req)));
    this.route('PATCH', `${base}/signed/:id`, (req, p) =>
      this.authed(req, () => {
        const hook = this.webhooks.get(p.id);
        if (!hook) return { status: 404, body: { errors: [{ message: 'Invalid id provided.' }] } };
        this.setSigning(hook, asRecord(req.json).enabled === true);
        return { status: 200, body: { id: hook.id, public_key: hook.publicKey ?? '' } };
      }),
    );
    this.route('GET', `${base}/signed/:id`, (req, p) =>
      this.authed(req, () => {
        const hook = this.webhooks.get(p.id);
        if (!hook) return { status: 404, body: { errors: [{ message: 'Invalid id provided.' }] } };
        return { status: 200, body: { id: hook.id, public_key: hook.publicKey ?? '' } };
      }),
    );
    this.route('GET', `${base}/:id`, (req, p) =>
      this.authed(req, () => {
        const hook = this.webhooks.get(p.id);
        return hook
          ? { status: 200, body: webhookBody(hook) }
          : { status: 404, body: { errors: [{ message: 'Invalid id provided.' }] } };
      }),
    );
    this.route('PATCH', `${base}/:id`, (req, p) =>
      this.authed(req, () => {
        const hook = this.webhooks.get(p.id);
        if (!hook) return { status: 404, body: { errors: [{ message: 'Invalid id provided.' }] } };
        const { url, enabled, friendly_name, ...settings } = asRecord(req.json);
        if (typeof url === 'string') hook.url = url;
        if (typeof enabled === 'boolean') hook.enabled = enabled;
        if (typeof friendly_name === 'string') hook.friendly_name = friendly_name;
        Object.assign(hook.settings, settings);
        return { status: 200, body: webhookBody(hook) };
      }),
    );
    this.route('DELETE', `${base}/:id`, (req, p) =>
      this.authed(req, () => {
        if (!this.webhooks.delete(p.id))
          return { status: 404, body: { errors: [{ message: 'Invalid id provided.' }] } };
        return { status: 204 };
      }),
    );
  }

  /** Seed a webhook the customer already has (tests assert we never touch it). */
  addWebhook(url: string, friendlyName = 'customer'): SendGridFakeWebhook {
    const hook: SendGridFakeWebhook = {
      id: randomUUID(),
      url,
      enabled: true,
      friendly_name: friendlyName,
      settings: { bounce: true },
    };
    this.webhooks.set(hook.id, hook);
    return hook;
  }

  /** Signing turned off, or on with a new key pair (as SendGrid does each time it is turned on). */
  private setSigning(hook: SendGridFakeWebhook, enabled: boolean): void {
    if (enabled) {
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      hook.publicKey = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
      hook.privateKey = privateKey;
    } else {
      hook.publicKey = undefined;
      hook.privateKey = undefined;
    }
  }

  /** What a user does in SendGrid's dashboard: signing turned off and on again, which gives the webhook a new key. */
  resign(webhookId: string): void {
    const hook = this.webhooks.get(webhookId);
    if (!hook) throw new Error(`fake: no webhook ${webhookId}`);
    this.setSigning(hook, true);
  }

  /** Sign a batch as SendGrid does: ECDSA P-256/SHA-256 over timestamp + raw body, base64 DER. */
  signedPost(webhookId: string, events: unknown[] | Buffer, timestamp = String(Math.floor(Date.now() / 1000))) {
    const hook = this.webhooks.get(webhookId);
    if (!hook?.privateKey) throw new Error(`fake: webhook ${webhookId} is not signed`);
    const rawBody = Buffer.isBuffer(events) ? events : Buffer.from(JSON.stringify(events));
    const signature = sign('sha256', Buffer.concat([Buffer.from(timestamp), rawBody]), hook.privateKey).toString(
      'base64',
    );
    return {
      rawBody,
      url: '/webhooks/sendgrid/x',
      headers: {
        'content-type': 'application/json',
        'x-twilio-email-event-webhook-signature': signature,
        'x-twilio-email-event-webhook-timestamp': timestamp,
      } as Record<string, string>,
    };
  }

  private createWebhook(req: RecordedRequest): FakeReply {
    const { url, enabled, friendly_name, ...settings } = asRecord(req.json);
    if (typeof url !== 'string' || !/^https?:\/\//.test(url)) {
      return { status: 400, body: { errors: [{ message: `'${String(url)}' is not a valid url` }] } };
    }
    const clash = [...this.webhooks.values()].find((w) => w.url === url);
    if (clash) {
      return {
        status: 400,
        body: {
          errors: [{ message: `Webhook at '${url}' already exists. Please provide a unique URL.`, id: clash.id, url }],
        },
      };
    }
    if (this.webhooks.size >= this.maxWebhooks) {
      return {
        status: 400,
        body: {
          errors: [{ message: 'You have reached the maximum number of webhooks per your current billing plan.' }],
        },
      };
    }
    const hook: SendGridFakeWebhook = {
      id: randomUUID(),
      url,
      enabled: enabled !== false,
      friendly_name: typeof friendly_name === 'string' ? friendly_name : null,
      settings,
    };
    this.webhooks.set(hook.id, hook);
    return { status: 201, body: webhookBody(hook) };
  }

  /** A valid Bearer key, or SendGrid's 401. */
  private authed(req: RecordedRequest, handler: () => FakeReply, badKeyBody: unknown = BAD_KEY): FakeReply {
    const auth = String(req.headers.authorization ?? '');
    const key = auth.startsWith('Bearer ') ? auth.slice('Bearer '.length) : '';
    if (!this.apiKeys.has(key)) return { status: 401, body: badKeyBody };
    return handler();
  }

  private mailSend(req: RecordedRequest): FakeReply {
    const body = asRecord(req.json);
    const from = asRecord(body.from);
    const fromEmail = typeof from.email === 'string' ? from.email : '';
    const personalizations = Array.isArray(body.personalizations) ? body.personalizations.map(asRecord) : [];
    if (!fromEmail || personalizations.length === 0) {
      return {
        status: 400,
        body: {
          errors: [{ message: 'The from object must be provided for every email send.', field: 'from', help: null }],
        },
      };
    }
    if (!this.senderAllowed(fromEmail)) return { status: 403, body: UNVERIFIED_SENDER };

    const to = personalizations.flatMap((p) => (Array.isArray(p.to) ? p.to.map((t) => String(asRecord(t).email)) : []));
    const content = Array.isArray(body.content) ? body.content.map(asRecord) : [];
    const part = (type: string): string | undefined => {
      const c = content.find((x) => x.type === type);
      return typeof c?.value === 'string' ? c.value : undefined;
    };
    const replyTo = asRecord(body.reply_to);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(asRecord(body.headers))) headers[k] = String(v);
    const id = randomBytes(11).toString('base64url');
    this.accepted.push({
      providerMessageId: id,
      from: typeof from.name === 'string' && from.name ? `${from.name} <${fromEmail}>` : fromEmail,
      to,
      subject: String(body.subject ?? ''),
      text: part('text/plain'),
      html: part('text/html'),
      replyTo: typeof replyTo.email === 'string' ? replyTo.email : undefined,
      headers,
    });
    return { status: 202, headers: { 'X-Message-Id': id } };
  }

  private senderAllowed(email: string): boolean {
    const lower = email.toLowerCase();
    const domain = lower.split('@')[1];
    return (
      this.verifiedSenders.some((s) => s.verified && s.email.toLowerCase() === lower) ||
      this.authenticatedDomains.some((d) => d.valid && d.domain.toLowerCase() === domain)
    );
  }
}

function webhookBody(hook: SendGridFakeWebhook): Record<string, unknown> {
  return {
    ...hook.settings,
    id: hook.id,
    url: hook.url,
    enabled: hook.enabled,
    friendly_name: hook.friendly_name,
    created_date: '2026-01-01T00:00:00Z',
    updated_date: '2026-01-01T00:00:00Z',
    ...(hook.publicKey ? { public_key: hook.publicKey } : {}),
  };
}

function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
