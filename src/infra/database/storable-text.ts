/**
 * PostgreSQL text and jsonb cannot hold U+0000. Text from outside that is not refused at the door
 * (an SMTP server's reply, a provider's error or event, a webhook's fields) would otherwise fail
 * the write that records it, and with it the outcome it carries (a message left SENDING and sent
 * again, a webhook batch answered 500 on every retry). Each NUL becomes U+FFFD, so what a person
 * reads still shows that something was there.
 */
export function storableText(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;
}

/** storableText for a value that may be missing. */
export function storableOrNull<T extends string | null | undefined>(text: T): T {
  return (typeof text === 'string' ? storableText(text) : text) as T;
}
