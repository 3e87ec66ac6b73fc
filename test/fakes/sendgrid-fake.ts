import { randomBytes } from 'node:crypto';
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
    this.route('GET', '/v3/verified_senders', (req) =>
      this.authed(req, () => ({
        status: 200,
        body: {
          results: this.verifiedSenders.map((s, i) => ({
            id: i + 1,
            nickname: s.email,
            from_email: s.email,
            from_name: 'Sender',
            reply_to: s.email,
            verified: s.verified,
            locked: false,
          })),
        },
      })),
    );
    this.route('GET', '/v3/whitelabel/domains', (req) =>
      this.authed(req, () => {
        const only = req.query.get('domain');
        const list = this.authenticatedDomains.filter((d) => !only || d.domain === only);
        return {
          status: 200,
          body: list.map((d, i) => ({ id: i + 1, domain: d.domain, subdomain: 'em123', username: 'fake', valid: d.valid })),
        };
      }),
    );
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
      return { status: 400, body: { errors: [{ message: 'The from object must be provided for every email send.', field: 'from', help: null }] } };
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

function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
