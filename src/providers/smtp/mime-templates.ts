import MailComposer from 'nodemailer/lib/mail-composer';
import MimeNode from 'nodemailer/lib/mime-node';

/**
 * What a message is built from. `headers` are nodemailer's (key, value or prepared value).
 * Everything but `to` and `messageId` is shared by all messages of a campaign.
 */
export interface MimeInput {
  from: string;
  to: string;
  replyTo?: string;
  subject: string;
  html?: string;
  text?: string;
  headers: { key: string; value: string | { prepared: true; value: string } }[];
  messageId?: string;
}

/** The part of a message that is the same for every recipient: its other headers and its body. */
interface Template {
  /** Whether there is an HTML part: the cache key is the HTML, else the text, so a text-only body could share it. */
  hasHtml: boolean;
  text?: string;
  from: string;
  replyTo?: string;
  subject: string;
  headersKey: string;
  /** Header lines (no Date, Message-ID, MIME-Version, To), the blank line, the encoded body. */
  tail: Promise<Buffer>;
  /** The tail's size once built (0 before). */
  bytes: number;
}

/** Cached templates together: a campaign's is built once, not once per recipient. */
const MAX_CACHED_BYTES = 8 * 1024 * 1024;
/** A body larger than this is built for its message alone (it would push out every other). */
const MAX_TEMPLATE_BYTES = 1024 * 1024;
const MAX_PER_BODY = 8;

/** Header fields that differ between the messages of one template; the template's block leaves them out. */
const PER_MESSAGE_FIELDS = new Set(['date', 'message-id', 'mime-version', 'to']);

/**
 * A recipient address nodemailer writes exactly as given: a dot-atom local part and a lower-case
 * ASCII host name ending in a letter label (nodemailer lower-cases domains, reads numeric ones as
 * IPv4 addresses and decodes xn-- labels). Anything else takes nodemailer's own path.
 */
const PLAIN_ADDRESS = /^[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*@(?!(?:.*\.)?xn--)(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z](?:[a-z0-9-]*[a-z0-9])?$/;
const PLAIN_MESSAGE_ID = /^<[\x21-\x3b\x3d\x3f-\x7e]+>$/;
/** nodemailer folds header lines of this length or more; the direct path writes only shorter ones. */
const FOLD_AT = 76;

/**
 * Builds whole RFC 5322 messages for nodemailer's `raw` option, keeping each distinct
 * (From, Reply-To, Subject, headers, body) as a ready template, so the messages of a campaign
 * differ only in the few header lines written per recipient.
 *
 * Why: composing a message (MIME tree, boundaries, header and body encoding, a stream per part)
 * was most of an SMTP send's CPU, the same work for each of a campaign's 50,000 recipients. The
 * template is composed by nodemailer's own MailComposer, and the per-recipient lines by its
 * MimeNode unless they are plain ASCII that it would write unchanged, so messages read as before.
 */
export class MimeTemplates {
  /** Keyed by the HTML body (else the text), the largest part to compare; least recently used first. */
  private readonly byBody = new Map<string, Template[]>();
  private cachedBytes = 0;

  async build(input: MimeInput): Promise<{ raw: Buffer; messageId: string }> {
    const tail = await this.templateFor(input).tail;
    const { head, messageId } = perMessageHead(input);
    return { raw: Buffer.concat([Buffer.from(`${head}\r\n`), tail]), messageId };
  }

  /** Bytes held by built templates, for tests. */
  get bytes(): number {
    return this.cachedBytes;
  }

  /** Templates held, for tests. */
  get size(): number {
    let n = 0;
    for (const list of this.byBody.values()) n += list.length;
    return n;
  }

  /** The cached template for this input, or a new one being composed (concurrent sends share it). */
  private templateFor(input: MimeInput): Template {
    const bodyKey = input.html ?? input.text ?? '';
    const headersKey = JSON.stringify(input.headers);
    const list = this.byBody.get(bodyKey) ?? [];
    const hasHtml = input.html !== undefined;
    const found = list.find(
      (t) => t.hasHtml === hasHtml && t.text === input.text && t.from === input.from && t.replyTo === input.replyTo && t.subject === input.subject && t.headersKey === headersKey,
    );
    // Most recently used last, among bodies and within one.
    this.byBody.delete(bodyKey);
    this.byBody.set(bodyKey, list);
    if (found) {
      list.splice(list.indexOf(found), 1);
      list.push(found);
      return found;
    }
    const template: Template = { hasHtml, text: input.text, from: input.from, replyTo: input.replyTo, subject: input.subject, headersKey, tail: composeTail(input), bytes: 0 };
    list.push(template);
    if (list.length > MAX_PER_BODY) this.remove(bodyKey, list[0]);
    template.tail.then(
      (tail) => {
        // Pushed out while it was being composed: it is not counted, as it is not held.
        if (!this.byBody.get(bodyKey)?.includes(template)) return;
        if (tail.length > MAX_TEMPLATE_BYTES) return this.remove(bodyKey, template);
        template.bytes = tail.length;
        this.cachedBytes += tail.length;
        this.evict(bodyKey);
      },
      // Composing failed: the sends waiting on it get the error; the next one tries again.
      () => this.remove(bodyKey, template),
    );
    return template;
  }

  /** Drops the least recently used bodies' templates until the cache fits (never the one just added). */
  private evict(keep: string): void {
    for (const [key, list] of this.byBody) {
      if (this.cachedBytes <= MAX_CACHED_BYTES) return;
      if (key !== keep) for (const t of [...list]) this.remove(key, t);
    }
  }

  private remove(bodyKey: string, template: Template): void {
    const list = this.byBody.get(bodyKey);
    const at = list?.indexOf(template) ?? -1;
    if (!list || at < 0) return;
    list.splice(at, 1);
    this.cachedBytes -= template.bytes;
    if (list.length === 0) this.byBody.delete(bodyKey);
  }
}

/** nodemailer composes the message without a recipient; its per-message header fields are cut out. */
async function composeTail(input: MimeInput): Promise<Buffer> {
  const { from, replyTo, subject, html, text, headers } = input;
  const built = await new MailComposer({ from, replyTo, subject, html, text, headers }).compile().build();
  const end = built.indexOf('\r\n\r\n');
  const lines = built.subarray(0, end).toString().split('\r\n');
  const kept: string[] = [];
  let keep = true;
  for (const line of lines) {
    // A line starting with white space continues the field before it (folding).
    if (!/^[ \t]/.test(line)) keep = !PER_MESSAGE_FIELDS.has(line.slice(0, line.indexOf(':')).toLowerCase());
    if (keep) kept.push(line);
  }
  return Buffer.concat([Buffer.from(`${kept.join('\r\n')}\r\n\r\n`), built.subarray(end + 4)]);
}

/** nodemailer's own Date format (RFC 5322, "+0000"). */
export const headerDate = (at: Date): string => at.toUTCString().replace(/GMT/, '+0000');

/** Date, Message-ID, MIME-Version and To: written directly when plain, else by nodemailer's MimeNode. */
export function perMessageHead(input: Pick<MimeInput, 'from' | 'to' | 'messageId'>, date = headerDate(new Date())): { head: string; messageId: string } {
  const head = plainHead(input, date);
  return head && input.messageId ? { head, messageId: input.messageId } : composedHead(input, date);
}

/** The lines written directly, or null when a value is not one nodemailer writes unchanged. */
export function plainHead({ to, messageId }: Pick<MimeInput, 'to' | 'messageId'>, date: string): string | null {
  if (!messageId || !PLAIN_MESSAGE_ID.test(messageId) || 'Message-ID: '.length + messageId.length >= FOLD_AT) return null;
  if (!PLAIN_ADDRESS.test(to) || 'To: '.length + to.length >= FOLD_AT) return null;
  return `Date: ${date}\r\nMessage-ID: ${messageId}\r\nMIME-Version: 1.0\r\nTo: ${to}`;
}

/** The same lines as nodemailer writes them. */
export function composedHead(input: Pick<MimeInput, 'from' | 'to' | 'messageId'>, date: string): { head: string; messageId: string } {
  const node = new MimeNode();
  node.setHeader('Date', date);
  node.setHeader('Message-ID', input.messageId ?? generatedMessageId(input.from));
  node.setHeader('MIME-Version', '1.0');
  node.setHeader('To', input.to);
  return { head: node.buildHeaders(), messageId: node.messageId() };
}

/** A Message-ID as nodemailer makes one for a message without: random, at the sender's domain. */
function generatedMessageId(from: string): string {
  return new MimeNode().setHeader('From', from).messageId();
}
