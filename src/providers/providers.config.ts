/** What the provider layer needs from configuration; built from env in src/config/providers.config.ts. */
export interface ProvidersConfig {
  /** Base URL overrides (tests point them at local fakes); undefined: the provider's real endpoint. */
  sesEndpoint?: string;
  snsEndpoint?: string;
  sendgridApiUrl?: string;
  mailgunApiUrl?: string;
  sparkpostApiUrl?: string;
  elasticEmailApiUrl?: string;
  /** SigningCertURL values trusted for SNS signatures (SNS_CERT_URL_PATTERN). */
  snsCertUrlPattern?: RegExp;
  /** Whether SMTP connections may go to loopback, private, link-local or metadata addresses. */
  allowPrivate: boolean;
  /** One HTTP request to a provider API, end to end. */
  httpTimeoutMs: number;
  smtpConnectionTimeoutMs: number;
  smtpGreetingTimeoutMs: number;
  smtpSocketTimeoutMs: number;
  /**
   * One SMTP conversation end to end (a send, a login check, a sender probe). The timeouts above
   * reset on every byte, so a server trickling its replies would hold a send (and its worker
   * slot) for ever without it. Defaults to smtpDeadlineMs(config).
   */
  smtpDeadlineMs?: number;
  /** Verify SMTP servers' TLS certificates. Only tests turn this off (their sink's cert is self-signed); never from env. */
  tlsRejectUnauthorized?: boolean;
}

export const DEFAULT_PROVIDER_TIMEOUTS = {
  httpTimeoutMs: 15_000,
  smtpConnectionTimeoutMs: 10_000,
  smtpGreetingTimeoutMs: 10_000,
  smtpSocketTimeoutMs: 30_000,
} as const;

/** The SMTP conversation deadline: as configured, else connect + greeting + two socket timeouts. */
export function smtpDeadlineMs(config: ProvidersConfig): number {
  return config.smtpDeadlineMs ?? config.smtpConnectionTimeoutMs + config.smtpGreetingTimeoutMs + 2 * config.smtpSocketTimeoutMs;
}
