import { randomUUID } from 'node:crypto';
import { FakeHttpServer, type FailureMode, type FakeReply, type RecordedRequest } from './fake-http-server';

export interface SesAcceptedMessage {
  providerMessageId: string;
  from: string;
  to: string[];
  subject: string;
  text?: string;
  html?: string;
  replyTo?: string;
  headers: Record<string, string>;
  configurationSetName?: string;
}

export type SesIdentityStatus = 'SUCCESS' | 'PENDING' | 'FAILED' | 'TEMPORARY_FAILURE' | 'NOT_STARTED';

export interface SesFakeOptions {
  /** Access key ids whose requests are accepted (signature itself is not verified). */
  accessKeyIds?: string[];
  /** Identities (addresses or domains) and their verification status. */
  identities?: Record<string, SesIdentityStatus>;
  /** Sandbox accounts may only send to verified identities too. */
  sandbox?: boolean;
  region?: string;
}

/**
 * Local SES v2 (PROVIDERS.md §1): SigV4-shaped auth check, SendEmail, GetAccount,
 * GetEmailIdentity, and SES's error wire format (status + x-amzn-ErrorType + {"message"}).
 */
export class SesFake extends FakeHttpServer {
  accessKeyIds: Set<string>;
  identities: Map<string, SesIdentityStatus>;
  sandbox: boolean;
  readonly region: string;
  readonly accepted: SesAcceptedMessage[] = [];

  static throttled(retryAfterSeconds?: number): FailureMode {
    return awsError(429, 'TooManyRequestsException', 'Maximum sending rate exceeded.', retryAfterSeconds);
  }

  static dailyQuotaExceeded(): FailureMode {
    return awsError(429, 'TooManyRequestsException', 'Daily message quota exceeded.');
  }

  static serverError(status = 500): FailureMode {
    return awsError(status, 'InternalServiceErrorException', 'Internal service error.');
  }

  constructor(options: SesFakeOptions = {}) {
    super();
    this.accessKeyIds = new Set(options.accessKeyIds ?? ['AKIDTEST']);
    this.identities = new Map(Object.entries(options.identities ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    this.sandbox = options.sandbox ?? false;
    this.region = options.region ?? 'us-east-1';

    this.route('POST', '/v2/email/outbound-emails', (req) => this.authed(req, () => this.sendEmail(req)));
    this.route('GET', '/v2/email/account', (req) =>
      this.authed(req, () => ({
        status: 200,
        body: {
          DedicatedIpAutoWarmupEnabled: false,
          EnforcementStatus: 'HEALTHY',
          ProductionAccessEnabled: !this.sandbox,
          SendQuota: { Max24HourSend: 50000, MaxSendRate: 14, SentLast24Hours: this.accepted.length },
          SendingEnabled: true,
          SuppressionAttributes: { SuppressedReasons: ['BOUNCE', 'COMPLAINT'] },
        },
      })),
    );
    this.route('GET', '/v2/email/identities/:identity', (req, params) =>
      this.authed(req, () => {
        const identity = decodeURIComponent(params.identity).toLowerCase();
        const status = this.identities.get(identity);
        if (!status) return reply(awsError(404, 'NotFoundException', `Email identity ${identity} does not exist.`));
        return {
          status: 200,
          body: {
            IdentityType: identity.includes('@') ? 'EMAIL_ADDRESS' : 'DOMAIN',
            FeedbackForwardingStatus: true,
            VerifiedForSendingStatus: status === 'SUCCESS',
            VerificationStatus: status,
            DkimAttributes: { SigningEnabled: true, Status: status, Tokens: [] },
            Policies: {},
            Tags: [],
          },
        };
      }),
    );
  }

  /** SES verifies SigV4; the fake only insists on its shape and a known access key id. */
  private authed(req: RecordedRequest, handler: () => FakeReply): FakeReply {
    const auth = String(req.headers.authorization ?? '');
    const keyId = /Credential=([^/]+)\//.exec(auth)?.[1];
    if (!auth.startsWith('AWS4-HMAC-SHA256') || !keyId || !this.accessKeyIds.has(keyId)) {
      return reply(awsError(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.'));
    }
    return handler();
  }

  private sendEmail(req: RecordedRequest): FakeReply {
    const body = asRecord(req.json);
    const from = String(body.FromEmailAddress ?? '');
    const to = stringList(asRecord(body.Destination).ToAddresses);
    const simple = asRecord(asRecord(body.Content).Simple);
    const bodyParts = asRecord(simple.Body);
    if (!from || to.length === 0 || !simple.Subject) {
      return reply(awsError(400, 'BadRequestException', 'Missing required parameter.'));
    }
    const failed = [bareAddress(from)].filter((a) => !this.isVerified(a));
    if (this.sandbox) failed.push(...to.map(bareAddress).filter((a) => !this.isVerified(a)));
    if (failed.length) {
      return reply(
        awsError(
          400,
          'MessageRejected',
          `Email address is not verified. The following identities failed the check in region ${this.region.toUpperCase()}: ${failed.join(', ')}`,
        ),
      );
    }
    const headers: Record<string, string> = {};
    for (const h of Array.isArray(simple.Headers) ? simple.Headers.map(asRecord) : []) headers[String(h.Name)] = String(h.Value);
    const id = `0100018c${randomUUID().replace(/-/g, '')}-000000`;
    const replyTo = stringList(body.ReplyToAddresses)[0];
    this.accepted.push({
      providerMessageId: id,
      from,
      to,
      subject: String(asRecord(simple.Subject).Data ?? ''),
      text: optionalString(asRecord(bodyParts.Text).Data),
      html: optionalString(asRecord(bodyParts.Html).Data),
      replyTo,
      headers,
      configurationSetName: optionalString(body.ConfigurationSetName),
    });
    return { status: 200, body: { MessageId: id }, headers: { 'x-amzn-RequestId': randomUUID() } };
  }

  /** An address is sendable when its own identity or its domain's is verified. */
  private isVerified(address: string): boolean {
    const domain = address.split('@')[1] ?? '';
    return this.identities.get(address) === 'SUCCESS' || this.identities.get(domain) === 'SUCCESS';
  }
}

/** SES's error wire format: status, x-amzn-ErrorType (with the coral suffix real AWS adds), {"message"}. */
function awsError(status: number, type: string, message: string, retryAfterSeconds?: number): FailureMode & { kind: 'status' } {
  return {
    kind: 'status',
    status,
    body: { message },
    headers: {
      'x-amzn-ErrorType': `${type}:http://internal.amazon.com/coral/com.amazonaws.sesv2/`,
      'x-amzn-RequestId': randomUUID(),
      ...(retryAfterSeconds !== undefined ? { 'Retry-After': String(retryAfterSeconds) } : {}),
    },
  };
}

function reply(mode: FailureMode & { kind: 'status' }): FakeReply {
  return { status: mode.status, body: mode.body, headers: mode.headers };
}

function bareAddress(address: string): string {
  const m = /<([^>]+)>/.exec(address);
  return (m ? m[1] : address).trim().toLowerCase();
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : [];
}

function optionalString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
