import { DeliveryErrorCode, TransportKind } from '../provider.enums';
import { classifySmtpError } from './smtp-errors';

/** The shape nodemailer's _formatError gives (PROVIDERS.md §6.3), with a recorded server reply. */
function nmError(message: string, code: string, response: string | false, command: string, extra: Record<string, unknown> = {}): Error {
  const err = Object.assign(new Error(response ? `${message}: ${response}` : message), { code, command }, extra);
  if (response) Object.assign(err, { response, responseCode: Number(/^\d+/.exec(response)?.[0]) });
  return err;
}

describe('classifySmtpError', () => {
  it.each([
    // [reply, command, nodemailer code, expected code, transient, step]
    ['535 5.7.8 Authentication credentials invalid', 'AUTH PLAIN', 'EAUTH', DeliveryErrorCode.AUTH_FAILED, false, 'AUTH'],
    ['535 Authentication failed: Bad username / password', 'AUTH LOGIN', 'EAUTH', DeliveryErrorCode.AUTH_FAILED, false, 'AUTH'],
    ['451 Authentication failed: Maximum credits exceeded', 'AUTH LOGIN', 'EAUTH', DeliveryErrorCode.QUOTA_EXCEEDED, true, 'AUTH'],
    ['454 Temporary authentication failure', 'AUTH PLAIN', 'EAUTH', DeliveryErrorCode.PROVIDER_ERROR, true, 'AUTH'],
    ['454 Throttling failure: Maximum sending rate exceeded.', 'MAIL FROM', 'EENVELOPE', DeliveryErrorCode.THROTTLED, true, 'MAIL_FROM'],
    ['454 Throttling failure: Daily message quota exceeded.', 'MAIL FROM', 'EENVELOPE', DeliveryErrorCode.QUOTA_EXCEEDED, true, 'MAIL_FROM'],
    ['421 Too many connections', 'CONN', 'EPROTOCOL', DeliveryErrorCode.THROTTLED, true, 'GREETING'],
    ['421 4.3.2 Service not available', 'EHLO', 'ECONNECTION', DeliveryErrorCode.PROVIDER_ERROR, true, 'GREETING'],
    ['451 4.3.0 Temporary local problem', 'RCPT TO', 'EENVELOPE', DeliveryErrorCode.PROVIDER_ERROR, true, 'RCPT'],
    ['452 4.3.1 Insufficient system storage', 'DATA', 'EMESSAGE', DeliveryErrorCode.QUOTA_EXCEEDED, true, 'DATA'],
    ['550 5.7.1 Sender rejected', 'MAIL FROM', 'EENVELOPE', DeliveryErrorCode.SENDER_NOT_VERIFIED, false, 'MAIL_FROM'],
    ['553 5.1.8 Sender address rejected', 'MAIL FROM', 'EENVELOPE', DeliveryErrorCode.SENDER_NOT_VERIFIED, false, 'MAIL_FROM'],
    ['550 5.1.1 User unknown', 'RCPT TO', 'EENVELOPE', DeliveryErrorCode.RECIPIENT_REJECTED, false, 'RCPT'],
    ['554 5.7.1 Message content rejected', 'DATA', 'EMESSAGE', DeliveryErrorCode.MESSAGE_REJECTED, false, 'DATA'],
    [
      '554 Message rejected: Email address is not verified. The following identities failed the check in region US-EAST-1: a@b.example',
      'DATA',
      'EMESSAGE',
      DeliveryErrorCode.SENDER_NOT_VERIFIED,
      false,
      'DATA',
    ],
    ['550 The from address does not match a verified Sender Identity', 'DATA', 'EMESSAGE', DeliveryErrorCode.SENDER_NOT_VERIFIED, false, 'DATA'],
    ['554 No SMTP service here', 'CONN', 'EPROTOCOL', DeliveryErrorCode.CONNECTION_FAILED, false, 'GREETING'],
    ['530 5.7.0 Authentication required', 'MAIL FROM', 'EENVELOPE', DeliveryErrorCode.AUTH_FAILED, false, 'MAIL_FROM'],
    ['530 5.7.0 Must issue a STARTTLS command first', 'MAIL FROM', 'EENVELOPE', DeliveryErrorCode.CONNECTION_FAILED, false, 'MAIL_FROM'],
    // The login may not relay or send: the server's setup, not the recipient or the message.
    ['554 5.7.1 <to@example.org>: Relay access denied', 'RCPT TO', 'EENVELOPE', DeliveryErrorCode.AUTH_FAILED, false, 'RCPT'],
    ['550 5.7.1 Unable to relay', 'RCPT TO', 'EENVELOPE', DeliveryErrorCode.AUTH_FAILED, false, 'RCPT'],
    ['554 Access denied: User arn:aws:iam::123456789012:user/x is not authorized to perform ses:SendRawEmail', 'DATA', 'EMESSAGE', DeliveryErrorCode.AUTH_FAILED, false, 'DATA'],
    // An IAM policy limiting which identities the login may send from: that sender only, not the login.
    [
      '554 Access denied: User arn:aws:iam::123456789012:user/x is not authorized to perform ses:SendRawEmail on resource arn:aws:ses:us-east-1:123456789012:identity/a@b.example',
      'DATA',
      'EMESSAGE',
      DeliveryErrorCode.SENDER_NOT_VERIFIED,
      false,
      'DATA',
    ],
    [
      '554 Access denied: User arn:aws:iam::123456789012:user/x is not authorized to perform `ses:SendRawEmail\' on resource `arn:aws:ses:eu-west-1:123456789012:identity/b.example\'',
      'DATA',
      'EMESSAGE',
      DeliveryErrorCode.SENDER_NOT_VERIFIED,
      false,
      'DATA',
    ],
  ])('%s on %s → %s', (reply, command, nmCode, code, transient, step) => {
    const err = classifySmtpError(nmError('Command failed', nmCode, reply, command));
    expect(err.code).toBe(code);
    expect(err.transient).toBe(transient);
    expect(err.smtpStep).toBe(step);
    expect(err.smtpResponseCode).toBe(Number(reply.slice(0, 3)));
    expect(err.transport).toBe(TransportKind.SMTP);
    // The person reading it sees the server's own reply line.
    expect(err.message).toContain(reply.slice(0, 60));
  });

  it.each([
    ['Greeting never received', 'ETIMEDOUT', 'GREETING_TIMEOUT', DeliveryErrorCode.TIMEOUT, 'GREETING'],
    ['Connection timeout', 'ETIMEDOUT', 'CONNECT_TIMEOUT', DeliveryErrorCode.TIMEOUT, 'CONNECT'],
    ['Connection closed unexpectedly', 'ECONNECTION', undefined, DeliveryErrorCode.CONNECTION_FAILED, 'CONNECT'],
    ['connect ECONNREFUSED 127.0.0.1:1', 'ESOCKET', undefined, DeliveryErrorCode.CONNECTION_FAILED, 'CONNECT'],
    ['Error initiating TLS - self-signed certificate', 'ETLS', undefined, DeliveryErrorCode.CONNECTION_FAILED, 'TLS'],
    ['getaddrinfo ENOTFOUND smtp.invalid', 'EDNS', undefined, DeliveryErrorCode.CONNECTION_FAILED, 'DNS'],
  ])('%s (%s) → %s', (message, nmCode, timeoutType, code, step) => {
    const err = classifySmtpError(nmError(message, nmCode, false, 'CONN', timeoutType ? { timeoutType } : {}));
    expect(err.code).toBe(code);
    expect(err.transient).toBe(true);
    expect(err.smtpStep).toBe(step);
    expect(err.isServerSide).toBe(true);
  });

  it('a certificate the client refuses (ESOCKET + TLS originalCode) is a TLS failure', () => {
    const err = classifySmtpError(nmError('self-signed certificate', 'ESOCKET', false, 'CONN', { originalCode: 'DEPTH_ZERO_SELF_SIGNED_CERT' }));
    expect(err.code).toBe(DeliveryErrorCode.CONNECTION_FAILED);
    expect(err.smtpStep).toBe('TLS');
    expect(err.message).toContain('self-signed certificate');
  });

  it('a missing password is an auth failure, not a network one', () => {
    const err = classifySmtpError(nmError('Missing credentials for "PLAIN"', 'EAUTH', false, 'API'));
    expect(err.code).toBe(DeliveryErrorCode.AUTH_FAILED);
    expect(err.transient).toBe(false);
  });

  it('never shows the password, even when the server echoes it back', () => {
    const password = 'S3cret-pass-word';
    const echoed = `535 5.7.8 Bad credentials for ${password} (${Buffer.from(password).toString('base64')})`;
    const err = classifySmtpError(nmError('Invalid login', 'EAUTH', echoed, 'AUTH PLAIN'), { redact: [password] });
    expect(err.code).toBe(DeliveryErrorCode.AUTH_FAILED);
    expect(err.message).not.toContain(password);
    expect(err.message).not.toContain(Buffer.from(password).toString('base64'));
    expect(err.message).toContain('535 5.7.8 Bad credentials');
  });

  it('redacts a secret that contains another whole, not just the inner one', () => {
    const password = 'S3cret-pass-word';
    // "\0relay-user\0" is 12 bytes: the password's own base64 sits inside the token's.
    const token = Buffer.from(`\u0000relay-user\u0000${password}`).toString('base64');
    const err = classifySmtpError(nmError('Invalid login', 'EAUTH', `535 5.7.8 Bad token ${token}`, 'AUTH PLAIN'), {
      redact: [password, `\u0000relay-user\u0000${password}`],
    });
    expect(err.message).toContain('535 5.7.8 Bad token [redacted]');
    expect(err.message).not.toContain(token.slice(0, 12));
  });

  it('redacts before it shortens a long reply: no part of a password echoed across the cut stays', () => {
    const password = 'Sup3rS3cret-and-long-enough';
    const echoed = `535 5.7.8 ${'x'.repeat(280)} ${password} refused`;
    const err = classifySmtpError(nmError('Invalid login', 'EAUTH', echoed, 'AUTH PLAIN'), { redact: [password] });
    expect(err.message).not.toContain(password.slice(0, 8));
  });

  it('uses the fallback step for an inactivity timeout mid-send', () => {
    const err = classifySmtpError(nmError('Timeout', 'ETIMEDOUT', false, 'CONN', { timeoutType: 'SOCKET_TIMEOUT' }), { fallbackStep: 'DATA' });
    expect(err.code).toBe(DeliveryErrorCode.TIMEOUT);
    expect(err.smtpStep).toBe('DATA');
  });
});
