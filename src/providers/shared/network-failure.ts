import { DeliveryErrorCode } from '../provider.enums';

/**
 * Network failures that come before a request is written: nothing answered the connection, the
 * name did not resolve, or the host or network was unreachable or down.
 */
const BEFORE_THE_REQUEST = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Certificate and handshake failures (CERT_HAS_EXPIRED, DEPTH_ZERO_SELF_SIGNED_CERT,
 * ERR_TLS_CERT_ALTNAME_INVALID, ERR_SSL_WRONG_VERSION_NUMBER, EPROTO…). By pattern, as OpenSSL and
 * Node have many such codes; the handshake comes before any request byte, so nothing was sent.
 * Shared with the SMTP classifier, which finds these in nodemailer's originalCode.
 */
export const TLS_FAILURE_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|EPROTO|HANDSHAKE/;

/**
 * A provider API call that got no HTTP answer, classified by whether the provider may have the
 * message. Before the request was written: CONNECTION_FAILED (the provider cannot have it, so its
 * quota unit goes back). A time-out, or a connection reset or closed once the request may have
 * gone out (ECONNRESET, EPIPE, "other side closed", an unknown code): TIMEOUT, as the provider may
 * have accepted it (the unit is kept, and a duplicate through a fallback is possible, as after
 * any time-out).
 */
export function apiNetworkFailure(api: string, networkCode: string, timeoutCodes: ReadonlySet<string>): { code: DeliveryErrorCode; message: string } {
  const said = networkCode ? ` (${networkCode})` : '';
  if (timeoutCodes.has(networkCode)) return { code: DeliveryErrorCode.TIMEOUT, message: `${api} did not answer in time` };
  if (BEFORE_THE_REQUEST.has(networkCode) || TLS_FAILURE_CODES.test(networkCode)) return { code: DeliveryErrorCode.CONNECTION_FAILED, message: `Could not connect to the ${api} API${said}` };
  return { code: DeliveryErrorCode.TIMEOUT, message: `The connection to the ${api} API was lost before it answered${said}` };
}
