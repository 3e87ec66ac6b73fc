import { DeliveryError } from '../../providers/delivery-error';
import { DeliveryErrorCode, TransportKind } from '../../providers/provider.enums';
import { neverReached } from './dispatch.service';

const failure = (code: DeliveryErrorCode, transport: TransportKind, smtpStep?: DeliveryError['smtpStep']): DeliveryError =>
  new DeliveryError({ code, transient: true, message: 'failed', transport, smtpStep });

describe('neverReached: whether a failed send gives its quota unit back', () => {
  it('yes for a failure before the content was handed over, whatever its code', () => {
    expect(neverReached(failure(DeliveryErrorCode.CONNECTION_FAILED, TransportKind.SMTP), false)).toBe(true);
    expect(neverReached(failure(DeliveryErrorCode.THROTTLED, TransportKind.SMTP, 'GREETING'), false)).toBe(true);
    expect(neverReached(failure(DeliveryErrorCode.TIMEOUT, TransportKind.SMTP, 'CONNECT'), false)).toBe(true);
    expect(neverReached(failure(DeliveryErrorCode.RECIPIENT_REJECTED, TransportKind.SMTP, 'RCPT'), false)).toBe(true);
  });

  it('no once the content went out, or when an API that may have taken it was tried first', () => {
    expect(neverReached(failure(DeliveryErrorCode.THROTTLED, TransportKind.SMTP, 'DATA'), false)).toBe(false);
    expect(neverReached(failure(DeliveryErrorCode.PROVIDER_ERROR, TransportKind.API), false)).toBe(false);
    // The API timed out (it may have accepted the message), then SMTP was refused at its greeting.
    expect(neverReached(failure(DeliveryErrorCode.THROTTLED, TransportKind.SMTP, 'GREETING'), true)).toBe(false);
    expect(neverReached(failure(DeliveryErrorCode.CONNECTION_FAILED, TransportKind.SMTP), true)).toBe(false);
    // An API refusal of the login itself never reached it.
    expect(neverReached(failure(DeliveryErrorCode.AUTH_FAILED, TransportKind.API), true)).toBe(true);
  });
});
