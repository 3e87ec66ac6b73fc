import type { DeliveryError, SmtpStep } from './delivery-error';
import { DeliveryErrorCode } from './provider.enums';

/** Codes that mean the provider never got the message: its quota unit is given back. */
const NEVER_REACHED = new Set([DeliveryErrorCode.CONNECTION_FAILED, DeliveryErrorCode.AUTH_FAILED, DeliveryErrorCode.BLOCKED_DESTINATION]);
/**
 * SMTP steps before the message's content was handed over: whatever the code (a time-out while
 * connecting, a 421 greeting, a refused sender or recipient), the provider never got the message.
 */
const STEPS_BEFORE_DATA = new Set<SmtpStep>(['DNS', 'CONNECT', 'TLS', 'GREETING', 'AUTH', 'MAIL_FROM', 'RCPT']);

/**
 * Whether a failed send never reached the provider, so its quota unit goes back: every transport
 * tried failed before handing the message over. An SMTP failure after the API timed out or
 * answered 5xx (which the provider may have accepted regardless) keeps the unit; after the API
 * refused the login or could not be reached, it does not.
 */
export function neverReached(error: DeliveryError): boolean {
  const handedNothing = (e: DeliveryError) => NEVER_REACHED.has(e.code) || (e.smtpStep !== undefined && STEPS_BEFORE_DATA.has(e.smtpStep));
  return [error, ...error.earlier].every(handedNothing);
}
