import { DeliveryErrorCode } from '../provider.enums';
import { apiNetworkFailure } from './network-failure';

const NO_TIMEOUT_CODES: ReadonlySet<string> = new Set();

describe('apiNetworkFailure', () => {
  it.each([
    'ECONNREFUSED',
    'ENOTFOUND',
    'EAI_AGAIN',
    'EAI_FAIL',
    'EHOSTUNREACH',
    'EHOSTDOWN',
    'ENETUNREACH',
    'ENETDOWN',
    'UND_ERR_CONNECT_TIMEOUT',
    // TLS and handshake failures, matched by pattern.
    'EPROTO',
    'CERT_HAS_EXPIRED',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'ERR_TLS_CERT_ALTNAME_INVALID',
    'ERR_SSL_WRONG_VERSION_NUMBER',
    'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
  ])('%s comes before the request: CONNECTION_FAILED (nothing was sent)', (networkCode) => {
    const lost = apiNetworkFailure('Test', networkCode, NO_TIMEOUT_CODES);
    expect(lost.code).toBe(DeliveryErrorCode.CONNECTION_FAILED);
    expect(lost.message).toBe(`Could not connect to the Test API (${networkCode})`);
  });

  it.each(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', ''])('"%s" may come after the request: TIMEOUT (the provider may have it)', (networkCode) => {
    expect(apiNetworkFailure('Test', networkCode, NO_TIMEOUT_CODES).code).toBe(DeliveryErrorCode.TIMEOUT);
  });

  it('names a time-out code as a time-out', () => {
    const lost = apiNetworkFailure('Test', 'ETIMEDOUT', new Set(['ETIMEDOUT']));
    expect(lost).toEqual({ code: DeliveryErrorCode.TIMEOUT, message: 'Test did not answer in time' });
  });
});
