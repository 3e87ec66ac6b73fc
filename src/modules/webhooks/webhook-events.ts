import { createHash } from 'node:crypto';
import { DeliveryErrorCode, DeliveryProvider } from '../../providers/provider.enums';
import type { WebhookEventKind } from '../../providers/provider.types';
import { WEBHOOK_SLUG } from '../delivery-servers/webhook-registrar';
import { MessageEventType, type StoredDeliveryError } from '../messages/message.entity';

/** The provider behind a path segment of POST /webhooks/{slug}/{serverId}; SMTP has no webhooks. */
export function providerForSlug(slug: string): DeliveryProvider | null {
  for (const provider of Object.values(DeliveryProvider)) {
    if (provider !== DeliveryProvider.SMTP && WEBHOOK_SLUG[provider] === slug) return provider;
  }
  return null;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_RE.test(value);
}

/**
 * The stored `providerMessageId` values an event's id may correspond to. Ids are compared
 * without angle brackets, but a stored id may carry them (SMTP replies), so both forms are
 * listed. SendGrid's sg_message_id is `<X-Message-Id>.filter…`; the adapter already cuts at
 * `.filter`/`.recvd`, and the part before the first '.' is tried as well.
 */
export function candidateIds(provider: DeliveryProvider, providerMessageId: string | null): string[] {
  const id = stripBrackets(providerMessageId?.trim() ?? '');
  if (!id) return [];
  const bare = new Set([id]);
  if (provider === DeliveryProvider.SENDGRID) {
    const dot = id.indexOf('.');
    if (dot > 0) bare.add(id.slice(0, dot));
  }
  return [...bare].flatMap((b) => [b, `<${b}>`]);
}

export function stripBrackets(id: string): string {
  return id.replace(/^<+|>+$/g, '');
}

export function eventTypeOf(kind: WebhookEventKind): MessageEventType {
  switch (kind) {
    case 'DELIVERED':
      return MessageEventType.DELIVERED;
    case 'SOFT_BOUNCE':
      return MessageEventType.SOFT_BOUNCE;
    case 'HARD_BOUNCE':
      return MessageEventType.HARD_BOUNCE;
    case 'COMPLAINT':
      return MessageEventType.COMPLAINT;
    case 'REJECTED':
      return MessageEventType.REJECTED;
    case 'DEFERRED':
      return MessageEventType.DEFERRED;
  }
}

/**
 * Why a provider's last word on a message it had accepted ends it, for a person: a rejection
 * (the provider would not send it) fails the message; a hard bounce, or a soft one the provider
 * has stopped retrying, bounces it. The SMTP reply code is read from the detail when it has one.
 */
export function providerOutcomeError(kind: WebhookEventKind, detail: string | undefined): StoredDeliveryError | null {
  const why = OUTCOME_TEXT[kind];
  if (!why) return null;
  const said = clip(detail ?? null, 500);
  const code = said ? /\b([45]\d\d)\b/.exec(said) : null;
  return {
    code: kind === 'REJECTED' ? DeliveryErrorCode.MESSAGE_REJECTED : DeliveryErrorCode.RECIPIENT_REJECTED,
    message: said ? `${why}: ${said}` : why,
    transport: null,
    smtpResponseCode: code ? Number(code[1]) : null,
    providerStatus: null,
    step: null,
  };
}

const OUTCOME_TEXT: Partial<Record<WebhookEventKind, string>> = {
  REJECTED: 'The provider accepted the message but did not send it',
  HARD_BOUNCE: "The recipient's mail server refused the message for good (hard bounce)",
  SOFT_BOUNCE: 'The provider stopped retrying the message (soft bounce; later mail to this address may arrive)',
};

export function clip(value: string | null, length: number): string | null {
  const text = value?.trim();
  return text ? text.slice(0, length) : null;
}

/** message_events.external_id is varchar(255): a longer provider event id is stored as its hash. */
export function externalIdOf(eventId: string): string {
  return eventId.length <= 255 ? eventId : `sha256:${createHash('sha256').update(eventId).digest('hex')}`;
}

/** message_events.detail is varchar(1000). */
export function clipDetail(detail: string | undefined): string | null {
  const text = detail?.trim();
  if (!text) return null;
  return text.length <= 1000 ? text : `${text.slice(0, 999)}…`;
}

const EMAIL_RE = /^[^\s@<>]+@[^\s@<>]+$/;

/** The address to suppress: the event's recipient when it is one, else the message's To. */
export function suppressionAddress(recipient: string | null, messageTo: string): string | null {
  for (const candidate of [recipient, bareAddress(messageTo)]) {
    const value = candidate?.trim().toLowerCase();
    if (value && value.length <= 320 && EMAIL_RE.test(value)) return value;
  }
  return null;
}

/** The address of a stored To ("Jane <jane@x.example>" → "jane@x.example"). */
export function bareAddress(value: string): string {
  const m = /<([^>]+)>\s*$/.exec(value);
  return (m ? m[1] : value).trim();
}

function parseJson(rawBody: Buffer): unknown {
  try {
    return JSON.parse(rawBody.toString('utf8'));
  } catch {
    return undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * SparkPost's test batch `[{"msys":{}}]`, posted to a target while the webhook is being created
 * or updated — before we have stored the credentials it carries. It holds no event, so
 * answering it 200 changes nothing.
 */
export function isSparkPostPing(rawBody: Buffer): boolean {
  const body = parseJson(rawBody);
  return Array.isArray(body) && body.length > 0 && body.every((item) => isRecord(item) && isRecord(item.msys) && Object.keys(item.msys).length === 0);
}

/** Mailgun's signature block (already verified by the adapter): its signature is what a replay reuses. */
export function mailgunSignature(rawBody: Buffer): { signature: string; timestamp: number } | null {
  const body = parseJson(rawBody);
  const sig = isRecord(body) && isRecord(body.signature) ? body.signature : null;
  if (!sig || typeof sig.signature !== 'string' || !sig.signature) return null;
  const timestamp = Number(sig.timestamp);
  return Number.isFinite(timestamp) ? { signature: sig.signature, timestamp } : null;
}

export function isSnsSubscriptionConfirmation(rawBody: Buffer): boolean {
  const body = parseJson(rawBody);
  return isRecord(body) && body.Type === 'SubscriptionConfirmation';
}
