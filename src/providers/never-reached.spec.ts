import { DeliveryError } from './delivery-error';
import { DeliveryErrorCode, TransportKind } from './provider.enums';
import { neverReached } from './never-reached';

const failure = (code: DeliveryErrorCode, transport: TransportKind, smtpStep?: DeliveryError['smtpStep']): DeliveryError =>
  new DeliveryError({ code, transient: true, message: 'failed', transport, smtpStep });
/** An SMTP fallback's failure after the API's (ProviderGateway.send records the API's as `earlier`). */
const after = (api: DeliveryError, smtp: DeliveryError): DeliveryError => new DeliveryError({ ...smtp.toInit(), earlier: [api] });

describe('neverReached: whether a failed send gives its quota unit back', () => {
  it('yes for a failure before the content was handed over, whatever its code', () => {
    expect(neverReached(failure(DeliveryErrorCode.CONNECTION_FAILED, TransportKind.SMTP))).toBe(true);
    expect(neverReached(failure(DeliveryErrorCode.THROTTLED, TransportKind.SMTP, 'GREETING'))).toBe(true);
    expect(neverReached(failure(DeliveryErrorCode.TIMEOUT, TransportKind.SMTP, 'CONNECT'))).toBe(true);
    expect(neverReached(failure(DeliveryErrorCode.RECIPIENT_REJECTED, TransportKind.SMTP, 'RCPT'))).toBe(true);
  });

  it('no once the content went out', () => {
    expect(neverReached(failure(DeliveryErrorCode.THROTTLED, TransportKind.SMTP, 'DATA'))).toBe(false);
    expect(neverReached(failure(DeliveryErrorCode.PROVIDER_ERROR, TransportKind.API))).toBe(false);
  });

  it('after an API attempt, only when that attempt never reached the provider either', () => {
    // The API timed out (it may have accepted the message), then SMTP was refused at its greeting.
    expect(neverReached(after(failure(DeliveryErrorCode.TIMEOUT, TransportKind.API), failure(DeliveryErrorCode.THROTTLED, TransportKind.SMTP, 'GREETING')))).toBe(false);
    // The API refused the key, then SMTP refused the login, or neither could be reached.
    expect(neverReached(after(failure(DeliveryErrorCode.AUTH_FAILED, TransportKind.API), failure(DeliveryErrorCode.AUTH_FAILED, TransportKind.SMTP, 'AUTH')))).toBe(true);
    expect(neverReached(after(failure(DeliveryErrorCode.CONNECTION_FAILED, TransportKind.API), failure(DeliveryErrorCode.CONNECTION_FAILED, TransportKind.SMTP, 'CONNECT')))).toBe(true);
  });
});
