import { DeliveryErrorCode } from '../provider.enums';

/**
 * Network failures that come before a request is written: nothing answered the connection, the
 * name did not resolve, the host was unreachable, or TLS did not trust it.
 */
const BEFORE_THE_REQUEST = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'EPROTO',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

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
  if (BEFORE_THE_REQUEST.has(networkCode)) return { code: DeliveryErrorCode.CONNECTION_FAILED, message: `Could not connect to the ${api} API${said}` };
  return { code: DeliveryErrorCode.TIMEOUT, message: `The connection to the ${api} API was lost before it answered${said}` };
}
