// Plain TypeScript enums shared by the provider layer and the GraphQL schema (registered with
// registerEnumType in the modules that expose them). Values are the contract's names.

export enum DeliveryProvider {
  SMTP = 'SMTP',
  AMAZON_SES = 'AMAZON_SES',
  SENDGRID = 'SENDGRID',
  MAILGUN = 'MAILGUN',
  SPARKPOST = 'SPARKPOST',
  ELASTIC_EMAIL = 'ELASTIC_EMAIL',
}

export enum TransportKind {
  API = 'API',
  SMTP = 'SMTP',
}

export enum SmtpSecurity {
  NONE = 'NONE',
  STARTTLS = 'STARTTLS',
  TLS = 'TLS',
}

export enum DeliveryErrorCode {
  AUTH_FAILED = 'AUTH_FAILED',
  SENDER_NOT_VERIFIED = 'SENDER_NOT_VERIFIED',
  CONNECTION_FAILED = 'CONNECTION_FAILED',
  TIMEOUT = 'TIMEOUT',
  THROTTLED = 'THROTTLED',
  RECIPIENT_REJECTED = 'RECIPIENT_REJECTED',
  MESSAGE_REJECTED = 'MESSAGE_REJECTED',
  QUOTA_EXCEEDED = 'QUOTA_EXCEEDED',
  BLOCKED_DESTINATION = 'BLOCKED_DESTINATION',
  NO_ROUTE = 'NO_ROUTE',
  SUPPRESSED = 'SUPPRESSED',
  PROVIDER_ERROR = 'PROVIDER_ERROR',
}

export enum WebhookStatus {
  PENDING = 'PENDING',
  REGISTERED = 'REGISTERED',
  FAILED = 'FAILED',
  NOT_SUPPORTED = 'NOT_SUPPORTED',
}
