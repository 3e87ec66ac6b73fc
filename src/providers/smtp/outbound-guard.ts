import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { DeliveryErrorCode, TransportKind } from '../provider.enums';
import { DeliveryError } from '../delivery-error';
import type { ProvidersConfig } from '../providers.config';
import { withTimeout } from '../../infra/with-timeout';

/** Where a user-given SMTP host may be reached: connect to `address`, present `servername` for TLS. */
export interface CheckedDestination {
  /** The exact IP that was checked; the connection must go here (no second DNS lookup). */
  address: string;
  family: 4 | 6;
  /** The host name as the user gave it, for TLS SNI and certificate checks; undefined for an IP literal. */
  servername?: string;
}

export type LookupFn = (hostname: string) => Promise<{ address: string; family: number }[]>;

const defaultLookup: LookupFn = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });

/** Cloud instance-metadata endpoints (AWS, GCP, Azure, OpenStack; AWS over IPv6). */
const METADATA = new Set(['169.254.169.254', 'fd00:ec2::254']);

const RANGE_LABEL: Record<string, string> = {
  loopback: 'a loopback address',
  private: 'a private network address',
  linkLocal: 'a link-local address',
  uniqueLocal: 'a unique-local IPv6 address',
  carrierGradeNat: 'a carrier-grade NAT address',
  unspecified: 'an unspecified address',
  broadcast: 'a broadcast address',
  multicast: 'a multicast address',
};

/**
 * Why this address must not be connected to, or null when it is a public unicast address.
 * An allow-list ("unicast" only) so reserved and future special ranges are refused too.
 */
export function blockedReason(address: string): string | null {
  let ip = ipaddr.process(address); // unwraps ::ffff:a.b.c.d to IPv4
  if (METADATA.has(ip.toNormalizedString()) || METADATA.has(ip.toString())) return 'a cloud metadata address';
  let range = ip.range();
  if (range === 'rfc6052' && ip.kind() === 'ipv6') {
    // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address: judge that one.
    const bytes = (ip as ipaddr.IPv6).toByteArray().slice(12);
    ip = ipaddr.fromByteArray(bytes);
    if (METADATA.has(ip.toString())) return 'a cloud metadata address';
    range = ip.range();
  }
  if (range === 'unicast') return null;
  return RANGE_LABEL[range] ?? `a reserved address (${range})`;
}

function dnsError(host: string, detail: string, transient: boolean): DeliveryError {
  return new DeliveryError({
    code: DeliveryErrorCode.CONNECTION_FAILED,
    transient,
    transport: TransportKind.SMTP,
    smtpStep: 'DNS',
    message: `SMTP host "${host}" could not be resolved: ${detail}`,
  });
}

/**
 * Resolve a user-given SMTP host and refuse internal destinations (SSRF guard) unless
 * `allowPrivate`. Every resolved address must pass: a name with one public and one private
 * record could otherwise be steered to the private one.
 */
export async function checkSmtpDestination(
  host: string,
  config: Pick<ProvidersConfig, 'allowPrivate' | 'smtpConnectionTimeoutMs'>,
  lookup: LookupFn = defaultLookup,
): Promise<CheckedDestination> {
  const name = host.trim().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  let addresses: { address: string; family: number }[];
  const literal = isIP(name);
  if (literal) {
    addresses = [{ address: name, family: literal }];
  } else {
    try {
      addresses = await withTimeout(lookup(name), config.smtpConnectionTimeoutMs, () =>
        Object.assign(new Error(`no answer within ${config.smtpConnectionTimeoutMs} ms`), { code: 'ETIMEOUT' }),
      );
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      // NXDOMAIN / no records will not fix itself on retry; a resolver hiccup may.
      const permanent = code === 'ENOTFOUND' || code === 'ENODATA';
      return Promise.reject(dnsError(name, permanent ? 'no such host' : (err as Error).message, !permanent));
    }
    if (addresses.length === 0) throw dnsError(name, 'no addresses', false);
  }

  if (!config.allowPrivate) {
    for (const { address } of addresses) {
      const reason = ipaddr.isValid(address) ? blockedReason(address) : 'not an IP address';
      if (reason) {
        // A name's internal address is not shown: any account could map internal names by trying them.
        const what = literal ? `SMTP host ${address} is ${reason}` : `SMTP host "${name}" resolves to ${reason}`;
        throw new DeliveryError({
          code: DeliveryErrorCode.BLOCKED_DESTINATION,
          transient: false,
          transport: TransportKind.SMTP,
          smtpStep: 'CONNECT',
          message: `${what}; connections to internal networks are not allowed`,
        });
      }
    }
  }
  // IPv4 first, as nodemailer itself does: many hosts have no IPv6 route even when a name has AAAA.
  const chosen = addresses.find((a) => a.family === 4) ?? addresses[0];
  return {
    address: chosen.address,
    family: chosen.family === 6 ? 6 : 4,
    servername: literal ? undefined : name,
  };
}
