import { DeliveryError } from '../delivery-error';
import { DeliveryErrorCode, TransportKind } from '../provider.enums';
import { apiNetworkFailure } from './network-failure';

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  url: string;
  headers?: Record<string, string>;
  /** Serialised as JSON unless a string or Buffer. */
  body?: unknown;
  timeoutMs: number;
}
export interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  json: unknown;
}

/**
 * fetch with a hard deadline (AbortSignal) for the REST-only providers. Network failures and
 * time-outs come back as classified DeliveryErrors; HTTP error statuses are returned for the
 * adapter's own classification table.
 */
export async function httpRequest(req: HttpRequest): Promise<HttpResponse> {
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
  let body: string | Buffer | undefined;
  if (typeof req.body === 'string' || Buffer.isBuffer(req.body)) body = req.body;
  else if (req.body !== undefined) {
    body = JSON.stringify(req.body);
    headers['content-type'] ??= 'application/json';
  }
  let res: Response;
  try {
    res = await fetch(req.url, { method: req.method, headers, body, signal: AbortSignal.timeout(req.timeoutMs) });
  } catch (err) {
    throw networkError(err, req.timeoutMs);
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw networkError(err, req.timeoutMs);
  }
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

function networkError(err: unknown, timeoutMs: number): DeliveryError {
  // Not `instanceof Error`: fetch's abort errors may come from another realm (jest's sandbox).
  const name = typeof err === 'object' && err !== null && 'name' in err ? String(err.name) : '';
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new DeliveryError({
      code: DeliveryErrorCode.TIMEOUT,
      message: `The provider did not answer within ${timeoutMs} ms`,
      transient: true,
      transport: TransportKind.API,
    });
  }
  const { code, message } = apiNetworkFailure('provider', causeCode(err), NO_TIMEOUT_CODES);
  return new DeliveryError({ code, message, transient: true, transport: TransportKind.API });
}

/** Time-outs are the abort signal's (above); no network code means one here. */
const NO_TIMEOUT_CODES: ReadonlySet<string> = new Set();

/** The errno-style code of a failed fetch: undici puts it on the error's `cause` ("fetch failed"). */
function causeCode(err: unknown): string {
  const cause = typeof err === 'object' && err !== null && 'cause' in err ? err.cause : undefined;
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? cause.code : undefined;
  return typeof code === 'string' ? code : '';
}
