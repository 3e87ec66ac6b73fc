import { createSign, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
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

export interface SesFakeTopic {
  arn: string;
  name: string;
  attributes: Record<string, string>;
  subscriptions: { arn: string; protocol: string; endpoint: string; token: string; confirmed: boolean }[];
}

export interface SesFakeConfigurationSet {
  name: string;
  eventDestinations: Map<string, Record<string, unknown>>;
}

/** A failure one route of the fake can be told to answer with (the others keep working). */
export type StatusFailure = Extract<FailureMode, { kind: 'none' | 'status' }>;

/** A post as SNS would make it to our webhook endpoint. */
export interface SnsPost {
  rawBody: Buffer;
  url: string;
  headers: Record<string, string>;
}

export interface SesFakeOptions {
  /** Access key ids whose requests are accepted (signature itself is not verified). */
  accessKeyIds?: string[];
  /** Identities (addresses or domains) and their verification status. */
  identities?: Record<string, SesIdentityStatus>;
  /** Sandbox accounts may only send to verified identities too. */
  sandbox?: boolean;
  region?: string;
  /**
   * Sends naming a configuration set that does not exist in their region fail, as at SES (404
   * NotFoundException). Off by default: adapter tests send with sets they never created.
   */
  requireConfigurationSets?: boolean;
}

/** An SNS call held by holdNextSns: `reached` once it arrives, answered after `release()`. */
export interface HeldCall {
  reached: Promise<void>;
  release(): void;
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
  readonly requireConfigurationSets: boolean;
  readonly accepted: SesAcceptedMessage[] = [];
  /** The region each accepted message was sent in (its request's SigV4 credential scope), by providerMessageId. */
  readonly sentIn = new Map<string, string>();
  readonly accountId = '111122223333';
  /** The configuration sets of the fake's own region (`region`); configurationSetsIn(r) for the others. */
  readonly configurationSets = new Map<string, SesFakeConfigurationSet>();
  /** Configuration sets by region: a set exists in the region it was created in only, as at SES. */
  private readonly setsByRegion = new Map<string, Map<string, SesFakeConfigurationSet>>();
  private readonly heldSns: { action: string; applied: boolean; reach: () => void; released: Promise<void> }[] = [];
  private readonly failingSns = new Map<string, FakeReply>();
  /** SNS topics by ARN (the fake serves SNS's query API on POST / of the same server). */
  readonly topics = new Map<string, SesFakeTopic>();
  private readonly signingKey: KeyObject;
  private readonly publicKeyPem: string;
  /** Certificate ids served at /SimpleNotificationService-<id>.pem; posts are signed with `certificateId`. */
  private readonly certificateIds = new Set<string>([DEFAULT_CERTIFICATE_ID]);
  private certificateId = DEFAULT_CERTIFICATE_ID;
  private certificateFailure: StatusFailure = { kind: 'none' };
  private snsApiFailure: StatusFailure = { kind: 'none' };

  static throttled(retryAfterSeconds?: number): StatusFailure {
    return awsError(429, 'TooManyRequestsException', 'Maximum sending rate exceeded.', retryAfterSeconds);
  }

  static dailyQuotaExceeded(): StatusFailure {
    return awsError(429, 'TooManyRequestsException', 'Daily message quota exceeded.');
  }

  static serverError(status = 500): StatusFailure {
    return awsError(status, 'InternalServiceErrorException', 'Internal service error.');
  }

  constructor(options: SesFakeOptions = {}) {
    super();
    this.accessKeyIds = new Set(options.accessKeyIds ?? ['AKIDTEST']);
    this.identities = new Map(Object.entries(options.identities ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    this.sandbox = options.sandbox ?? false;
    this.region = options.region ?? 'us-east-1';
    this.requireConfigurationSets = options.requireConfigurationSets ?? false;
    this.setsByRegion.set(this.region, this.configurationSets);

    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.signingKey = privateKey;
    this.publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    this.configurationSetRoutes();
    this.route('POST', '/', async (req) => {
      if (this.snsApiFailure.kind === 'status') return reply(this.snsApiFailure);
      const action = new URLSearchParams(req.rawBody.toString('utf8')).get('Action') ?? '';
      const failure = this.failingSns.get(action);
      if (failure) {
        this.failingSns.delete(action);
        return failure;
      }
      await this.heldUntilReleased(action, false);
      const answer = this.sns(req);
      await this.heldUntilReleased(action, true);
      return answer;
    });
    // crypto.verify accepts a bare public key PEM where SNS serves an X.509 certificate.
    this.route('GET', '/SimpleNotificationService-:id.pem', (_req, params) => {
      if (this.certificateFailure.kind === 'status') return reply(this.certificateFailure);
      if (!this.certificateIds.has(params.id)) return { status: 404, body: '<Error><Code>NoSuchKey</Code></Error>' };
      return { status: 200, body: this.publicKeyPem, headers: { 'content-type': 'application/x-pem-file' } };
    });
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

  /**
   * As SNS does now and then: sign from a new certificate URL (same key here; the URL is what a
   * receiver caches by). Returns the new SigningCertURL.
   */
  rotateCertificate(): string {
    this.certificateId = randomUUID().replace(/-/g, '');
    this.certificateIds.add(this.certificateId);
    return this.certificateUrl;
  }

  /** The SigningCertURL posts are signed with now. */
  get certificateUrl(): string {
    return `${this.url}/SimpleNotificationService-${this.certificateId}.pem`;
  }

  /** How often a certificate URL of this fake was fetched. */
  certificateFetches(url: string): number {
    const path = new URL(url).pathname;
    return this.requests.filter((r) => r.method === 'GET' && r.path === path).length;
  }

  /** Certificate downloads fail this way (the SNS API still answers) until failCertificates({ kind: 'none' }). */
  failCertificates(mode: StatusFailure): void {
    this.certificateFailure = mode;
  }

  /** SNS API calls fail this way (certificates are still served) until failSnsApi({ kind: 'none' }). */
  failSnsApi(mode: StatusFailure): void {
    this.snsApiFailure = mode;
  }

  /** The configuration sets of one region (created empty on first use). */
  configurationSetsIn(region: string): Map<string, SesFakeConfigurationSet> {
    let sets = this.setsByRegion.get(region);
    if (!sets) this.setsByRegion.set(region, (sets = new Map()));
    return sets;
  }

  /**
   * The next SNS call of this Action (e.g. 'Subscribe') waits, unanswered, until `release()`:
   * for a test that acts while a webhook registration is under way. `applied`: the call takes
   * effect first and only its answer waits, as when SNS has made a subscription (and posts its
   * SubscriptionConfirmation) before the caller has read the answer.
   */
  holdNextSns(action: string, options: { applied?: boolean } = {}): HeldCall {
    let reach!: () => void;
    let release!: () => void;
    const reached = new Promise<void>((resolve) => (reach = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.heldSns.push({ action, applied: options.applied ?? false, reach, released });
    return { reached, release };
  }

  /** The next SNS call of this Action (e.g. 'Subscribe') fails with this SNS error, changing nothing; the ones after it work. */
  failNextSns(action: string, status = 500, code = 'InternalError', message = 'Request could not be completed.'): void {
    this.failingSns.set(action, snsError(status, code, message));
  }

  private async heldUntilReleased(action: string, applied: boolean): Promise<void> {
    const i = this.heldSns.findIndex((h) => h.action === action && h.applied === applied);
    if (i < 0) return;
    const [held] = this.heldSns.splice(i, 1);
    held.reach();
    await held.released;
  }

  /** The SubscriptionConfirmation SNS posts to a new HTTPS subscriber, signed. */
  subscriptionConfirmation(topicArn: string, endpoint: string, signatureVersion: '1' | '2' = '1'): SnsPost {
    const sub = this.topics.get(topicArn)?.subscriptions.find((x) => x.endpoint === endpoint);
    if (!sub) throw new Error(`fake: no subscription of ${endpoint} to ${topicArn}`);
    return this.snsPost(
      {
        Type: 'SubscriptionConfirmation',
        MessageId: randomUUID(),
        Token: sub.token,
        TopicArn: topicArn,
        Message: `You have chosen to subscribe to the topic ${topicArn}.\nTo confirm the subscription, visit the SubscribeURL included in this message.`,
        SubscribeURL: `${this.url}/?Action=ConfirmSubscription&TopicArn=${encodeURIComponent(topicArn)}&Token=${sub.token}`,
        Timestamp: new Date().toISOString(),
      },
      signatureVersion,
    );
  }

  /**
   * An SES event published to the topic, as SNS delivers it (the event is a JSON string in
   * Message); a string is sent as the Message itself (SES's plain-text topic validation).
   */
  notification(topicArn: string, sesEvent: Record<string, unknown> | string, signatureVersion: '1' | '2' = '1'): SnsPost {
    return this.snsPost(
      {
        Type: 'Notification',
        MessageId: randomUUID(),
        TopicArn: topicArn,
        Message: typeof sesEvent === 'string' ? sesEvent : JSON.stringify(sesEvent),
        Timestamp: new Date().toISOString(),
        UnsubscribeURL: `${this.url}/?Action=Unsubscribe&SubscriptionArn=${encodeURIComponent(topicArn)}:x`,
      },
      signatureVersion,
    );
  }

  private snsPost(message: Record<string, string>, signatureVersion: '1' | '2'): SnsPost {
    const keys =
      message.Type === 'Notification'
        ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
        : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
    const toSign = keys
      .filter((k) => message[k] !== undefined)
      .map((k) => `${k}\n${message[k]}\n`)
      .join('');
    const signature = createSign(signatureVersion === '1' ? 'RSA-SHA1' : 'RSA-SHA256')
      .update(toSign, 'utf8')
      .sign(this.signingKey, 'base64');
    const body = {
      ...message,
      SignatureVersion: signatureVersion,
      Signature: signature,
      SigningCertURL: this.certificateUrl,
    };
    return {
      rawBody: Buffer.from(JSON.stringify(body)),
      url: '/webhooks/ses/x',
      headers: {
        'content-type': 'text/plain; charset=UTF-8',
        'x-amz-sns-message-type': message.Type,
        'x-amz-sns-message-id': message.MessageId,
        'x-amz-sns-topic-arn': message.TopicArn,
      },
    };
  }

  private configurationSetRoutes(): void {
    const base = '/v2/email/configuration-sets';
    const missing = (name: string): FakeReply =>
      reply(awsError(404, 'NotFoundException', `Configuration set <${name}> does not exist.`));
    this.route('POST', base, (req) =>
      this.authed(req, () => {
        const name = String(asRecord(req.json).ConfigurationSetName ?? '');
        if (!name) return reply(awsError(400, 'BadRequestException', 'ConfigurationSetName is required.'));
        const sets = this.setsOf(req);
        if (sets.has(name))
          return reply(awsError(400, 'AlreadyExistsException', `Configuration set <${name}> already exists.`));
        sets.set(name, { name, eventDestinations: new Map() });
        return { status: 200, body: {} };
      }),
    );
    this.route('DELETE', `${base}/:name`, (req, p) =>
      this.authed(req, () => (this.setsOf(req).delete(p.name) ? { status: 200, body: {} } : missing(p.name))),
    );
    this.route('GET', `${base}/:name/event-destinations`, (req, p) =>
      this.authed(req, () => {
        const set = this.setsOf(req).get(p.name);
        if (!set) return missing(p.name);
        return {
          status: 200,
          body: { EventDestinations: [...set.eventDestinations].map(([Name, d]) => ({ Name, ...d })) },
        };
      }),
    );
    this.route('POST', `${base}/:name/event-destinations`, (req, p) =>
      this.authed(req, () => {
        const set = this.setsOf(req).get(p.name);
        if (!set) return missing(p.name);
        const body = asRecord(req.json);
        const destName = String(body.EventDestinationName ?? '');
        if (set.eventDestinations.has(destName))
          return reply(awsError(400, 'AlreadyExistsException', `Event destination ${destName} already exists.`));
        set.eventDestinations.set(destName, asRecord(body.EventDestination));
        return { status: 200, body: {} };
      }),
    );
    this.route('PUT', `${base}/:name/event-destinations/:dest`, (req, p) =>
      this.authed(req, () => {
        const set = this.setsOf(req).get(p.name);
        if (!set?.eventDestinations.has(p.dest)) return missing(p.name);
        set.eventDestinations.set(p.dest, asRecord(asRecord(req.json).EventDestination));
        return { status: 200, body: {} };
      }),
    );
    this.route('DELETE', `${base}/:name/event-destinations/:dest`, (req, p) =>
      this.authed(req, () => {
        const set = this.setsOf(req).get(p.name);
        if (!set?.eventDestinations.delete(p.dest)) return missing(p.name);
        return { status: 200, body: {} };
      }),
    );
  }

  /** SNS query API: form-encoded Action=… on POST /, XML answers. */
  private sns(req: RecordedRequest): FakeReply {
    const auth = String(req.headers.authorization ?? '');
    const keyId = /Credential=([^/]+)\//.exec(auth)?.[1];
    if (!auth.startsWith('AWS4-HMAC-SHA256') || !keyId || !this.accessKeyIds.has(keyId)) {
      return snsError(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
    }
    const q = new URLSearchParams(req.rawBody.toString('utf8'));
    const action = q.get('Action') ?? '';
    const topic = this.topics.get(q.get('TopicArn') ?? '');
    switch (action) {
      case 'CreateTopic': {
        const name = q.get('Name') ?? '';
        const arn = `arn:aws:sns:${regionOf(req) ?? this.region}:${this.accountId}:${name}`;
        if (!this.topics.has(arn)) this.topics.set(arn, { arn, name, attributes: {}, subscriptions: [] });
        return snsOk(action, `<TopicArn>${arn}</TopicArn>`);
      }
      case 'SetTopicAttributes': {
        if (!topic) return snsError(404, 'NotFound', 'Topic does not exist');
        topic.attributes[q.get('AttributeName') ?? ''] = q.get('AttributeValue') ?? '';
        return snsOk(action);
      }
      case 'Subscribe': {
        if (!topic) return snsError(404, 'NotFound', 'Topic does not exist');
        const endpoint = q.get('Endpoint') ?? '';
        const protocol = q.get('Protocol') ?? '';
        if (!/^https?:\/\//.test(endpoint)) return snsError(400, 'InvalidParameter', 'Invalid parameter: Endpoint');
        let sub = topic.subscriptions.find((x) => x.endpoint === endpoint && x.protocol === protocol);
        if (!sub) {
          sub = {
            arn: `${topic.arn}:${randomUUID()}`,
            protocol,
            endpoint,
            token: randomBytes(64).toString('hex'),
            confirmed: false,
          };
          topic.subscriptions.push(sub);
        }
        const arn = sub.confirmed || q.get('ReturnSubscriptionArn') === 'true' ? sub.arn : 'pending confirmation';
        return snsOk(action, `<SubscriptionArn>${arn}</SubscriptionArn>`);
      }
      case 'ConfirmSubscription': {
        const sub = topic?.subscriptions.find((x) => x.token === q.get('Token'));
        if (!sub) return snsError(400, 'InvalidParameter', 'Invalid token');
        sub.confirmed = true;
        return snsOk(action, `<SubscriptionArn>${sub.arn}</SubscriptionArn>`);
      }
      case 'Unsubscribe': {
        const arn = q.get('SubscriptionArn') ?? '';
        const owner = [...this.topics.values()].find((t) => t.subscriptions.some((x) => x.arn === arn));
        if (!owner) return snsError(404, 'NotFound', 'Subscription does not exist');
        owner.subscriptions = owner.subscriptions.filter((x) => x.arn !== arn);
        return snsOk(action);
      }
      case 'DeleteTopic': {
        this.topics.delete(q.get('TopicArn') ?? ''); // idempotent, as in SNS
        return snsOk(action);
      }
      default:
        return snsError(400, 'InvalidAction', `The action ${action} is not valid for this endpoint.`);
    }
  }

  /** SES verifies SigV4; the fake only insists on its shape and a known access key id. */
  private authed(req: RecordedRequest, handler: () => FakeReply): FakeReply {
    const auth = String(req.headers.authorization ?? '');
    const keyId = /Credential=([^/]+)\//.exec(auth)?.[1];
    if (!auth.startsWith('AWS4-HMAC-SHA256') || !keyId || !this.accessKeyIds.has(keyId)) {
      return reply(
        awsError(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.'),
      );
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
    const configurationSetName = optionalString(body.ConfigurationSetName);
    if (this.requireConfigurationSets && configurationSetName && !this.setsOf(req).has(configurationSetName)) {
      return reply(awsError(404, 'NotFoundException', `Configuration set <${configurationSetName}> does not exist.`));
    }
    const headers: Record<string, string> = {};
    for (const h of Array.isArray(simple.Headers) ? simple.Headers.map(asRecord) : []) {
      // SES's MessageHeader rules: printable ASCII, name and value within 996 characters.
      const [name, value] = [String(h.Name), String(h.Value)];
      if (!/^[\x20-\x7e]*$/.test(value) || name.length + value.length > 996) return reply(awsError(400, 'BadRequestException', `Invalid header value for ${name}.`));
      headers[name] = value;
    }
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
      configurationSetName,
    });
    this.sentIn.set(id, regionOf(req) ?? this.region);
    return { status: 200, body: { MessageId: id }, headers: { 'x-amzn-RequestId': randomUUID() } };
  }

  /** The configuration sets of the region a request was signed for. */
  private setsOf(req: RecordedRequest): Map<string, SesFakeConfigurationSet> {
    return this.configurationSetsIn(regionOf(req) ?? this.region);
  }

  /** Sendable when the address, its domain or a parent domain is a verified identity (as in SES). */
  private isVerified(address: string): boolean {
    if (this.identities.get(address) === 'SUCCESS') return true;
    const labels = (address.split('@')[1] ?? '').split('.');
    return labels.some((_, i) => this.identities.get(labels.slice(i).join('.')) === 'SUCCESS');
  }
}

const DEFAULT_CERTIFICATE_ID = 'fake';
const SNS_NS = 'http://sns.amazonaws.com/doc/2010-03-31/';

/** The region of a SigV4 credential scope: Credential=<key id>/<date>/<region>/<service>/aws4_request. */
function regionOf(req: RecordedRequest): string | undefined {
  return /Credential=[^/]+\/[^/]+\/([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1];
}

function snsOk(action: string, result = ''): FakeReply {
  const inner = result ? `<${action}Result>${result}</${action}Result>` : '';
  return {
    status: 200,
    headers: { 'content-type': 'text/xml' },
    body: `<${action}Response xmlns="${SNS_NS}">${inner}<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`,
  };
}

function snsError(status: number, code: string, message: string): FakeReply {
  return {
    status,
    headers: { 'content-type': 'text/xml' },
    body: `<ErrorResponse xmlns="${SNS_NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  };
}

/** SES's error wire format: status, x-amzn-ErrorType (with the coral suffix real AWS adds), {"message"}. */
function awsError(
  status: number,
  type: string,
  message: string,
  retryAfterSeconds?: number,
): FailureMode & { kind: 'status' } {
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
