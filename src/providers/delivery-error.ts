import { storableText } from '../infra/database/storable-text';
import { DeliveryErrorCode, TransportKind } from './provider.enums';

/** The SMTP conversation step that failed, so ops can act on a failed test. */
export type SmtpStep = 'DNS' | 'CONNECT' | 'TLS' | 'GREETING' | 'AUTH' | 'MAIL_FROM' | 'RCPT' | 'DATA';

export interface DeliveryErrorInit {
  code: DeliveryErrorCode;
  message: string;
  /** true: retrying later may succeed (4xx, 429, 5xx from an API, network). */
  transient: boolean;
  transport?: TransportKind;
  smtpResponseCode?: number;
  smtpStep?: SmtpStep;
  providerStatus?: number;
  retryAfterMs?: number;
  earlier?: readonly DeliveryError[];
}

/**
 * A classified provider failure. `message` is written for a person and never carries a
 * credential: adapters build it from the provider's reply text, not from request data.
 */
export class DeliveryError extends Error {
  readonly code: DeliveryErrorCode;
  readonly transient: boolean;
  readonly transport?: TransportKind;
  readonly smtpResponseCode?: number;
  readonly smtpStep?: SmtpStep;
  readonly providerStatus?: number;
  readonly retryAfterMs?: number;
  /**
   * The failures of the transports tried before this one in the same send (API before its SMTP
   * fallback): whether the message may have reached the provider depends on every attempt.
   */
  readonly earlier: readonly DeliveryError[];

  constructor(init: DeliveryErrorInit) {
    // A server's or provider's words, stored with the message, its test or its registration.
    super(storableText(init.message));
    this.name = 'DeliveryError';
    this.code = init.code;
    this.transient = init.transient;
    this.transport = init.transport;
    this.smtpResponseCode = init.smtpResponseCode;
    this.smtpStep = init.smtpStep;
    this.providerStatus = init.providerStatus;
    this.retryAfterMs = init.retryAfterMs;
    this.earlier = init.earlier ?? [];
  }

  /**
   * Whether a send that failed this way may be retried on the next transport (API→SMTP):
   * yes for the server's own trouble (auth, network, throttling, 5xx), never when the
   * recipient or the content was refused, or the sender is not allowed.
   */
  get isServerSide(): boolean {
    switch (this.code) {
      case DeliveryErrorCode.AUTH_FAILED:
      case DeliveryErrorCode.CONNECTION_FAILED:
      case DeliveryErrorCode.TIMEOUT:
      case DeliveryErrorCode.THROTTLED:
      case DeliveryErrorCode.QUOTA_EXCEEDED:
      case DeliveryErrorCode.PROVIDER_ERROR:
        return true;
      case DeliveryErrorCode.SENDER_NOT_VERIFIED:
      case DeliveryErrorCode.RECIPIENT_REJECTED:
      case DeliveryErrorCode.MESSAGE_REJECTED:
      case DeliveryErrorCode.BLOCKED_DESTINATION:
      case DeliveryErrorCode.NO_ROUTE:
      case DeliveryErrorCode.SUPPRESSED:
        return false;
    }
  }

  withTransport(transport: TransportKind): DeliveryError {
    return new DeliveryError({ ...this.toInit(), transport });
  }

  toInit(): DeliveryErrorInit {
    return {
      code: this.code,
      message: this.message,
      transient: this.transient,
      transport: this.transport,
      smtpResponseCode: this.smtpResponseCode,
      smtpStep: this.smtpStep,
      providerStatus: this.providerStatus,
      retryAfterMs: this.retryAfterMs,
      earlier: this.earlier,
    };
  }
}

/** Parse a Retry-After header (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * A webhook post for a registration whose outcome is not recorded yet (SNS confirms a
 * subscription as soon as it has made it): worth a retry only while that registration runs.
 */
export class AheadOfRegistrationError extends DeliveryError {
  constructor(message: string) {
    super({ code: DeliveryErrorCode.PROVIDER_ERROR, message, transient: true });
    this.name = 'AheadOfRegistrationError';
  }
}

/**
 * A webhook post whose signature does not verify with the stored key, though it is well formed
 * and timely: the only refusal a key changed at the provider could explain (WebhookStateRefresh).
 */
export class WrongWebhookKeyError extends DeliveryError {
  constructor(message: string) {
    super({ code: DeliveryErrorCode.AUTH_FAILED, message, transient: false, transport: TransportKind.API });
    this.name = 'WrongWebhookKeyError';
  }
}
