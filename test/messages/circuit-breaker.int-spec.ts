import { CircuitBreaker } from '../../src/modules/routing/circuit-breaker';
import { DeliveryErrorCode } from '../../src/providers/provider.enums';
import { newAgency } from '../factories/accounts';
import { createServer, SINK_USER, smtpServerInput, verifyAndActivate } from '../factories/delivery-servers';
import { createTestApp, type TestApp } from '../utils/create-test-app';
import { SmtpSink } from '../utils/smtp-sink';
import { waitFor } from '../utils/wait-for';

const SEND = `mutation($input: SendEmailInput!) { sendEmail(input: $input) { id } }`;
const PREVIEW = `query($a: ID!, $f: String!) { routePreview(accountId: $a, from: $f) { server { id } candidates { server { id } eligible reason } } }`;

describe('circuit breaker', () => {
  let t: TestApp;
  let good: SmtpSink;
  let failing: SmtpSink;
  beforeAll(async () => {
    good = new SmtpSink({ users: [SINK_USER] });
    failing = new SmtpSink({ users: [SINK_USER] });
    await good.start();
    await failing.start();
    t = await createTestApp({ RETRY_BASE_MS: '50', SWEEP_INTERVAL_MS: '500', MAX_SEND_ATTEMPTS: '10' });
  });
  afterAll(async () => {
    await t.close();
    await good.stop();
    await failing.stop();
  });

  it('takes a server that keeps failing to connect out of routing, so FAILOVER mail flows to the next one', async () => {
    const agency = await newAgency(t, { onQuotaExhausted: 'FAILOVER' });
    const broken = await createServer(t, smtpServerInput(agency.id, failing.port, { name: 'Broken' }));
    await verifyAndActivate(t, broken.id);
    const backup = await createServer(t, smtpServerInput(agency.id, good.port, { name: 'Backup' }));
    await verifyAndActivate(t, backup.id);
    // The first server goes away (its pooled connections too): every connection is refused.
    await failing.stop();

    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      ids.push((await t.gqlOk<{ sendEmail: { id: string } }>(SEND, { input: { accountId: agency.id, from: 'a@brand.example', to: `cb-${i}@example.com`, subject: 'breaker', text: 'x' } })).sendEmail.id);
    }
    await waitFor('all six sent through the backup', async () => good.messages.filter((m) => m.subject === 'breaker').length === 6, 20_000);
    const preview = await t.gqlOk<{ routePreview: { server: { id: string }; candidates: { server: { id: string }; eligible: boolean; reason: string | null }[] } }>(PREVIEW, {
      a: agency.id,
      f: 'a@brand.example',
    });
    expect(preview.routePreview.server.id).toBe(backup.id);
    const brokenView = preview.routePreview.candidates.find((c) => c.server.id === broken.id);
    expect(brokenView?.eligible).toBe(false);
    expect(brokenView?.reason).toMatch(/^out of routing after repeated connection failures until \d\d:\d\d UTC$/);
  });

  it('pauses a server whose login keeps failing, with the reason', async () => {
    const agency = await newAgency(t);
    const server = await createServer(t, smtpServerInput(agency.id, good.port, { name: 'Locked out' }));
    await verifyAndActivate(t, server.id);
    const breaker = t.app.get(CircuitBreaker);
    for (let i = 0; i < 3; i++) await breaker.recordFailure(server.id, DeliveryErrorCode.AUTH_FAILED, 'Invalid login: 535 5.7.8 Authentication credentials invalid');
    const read = await t.gqlOk<{ deliveryServer: { status: string; pausedReason: string | null } }>(`query($id: ID!) { deliveryServer(id: $id) { status pausedReason } }`, { id: server.id });
    expect(read.deliveryServer.status).toBe('PAUSED');
    expect(read.deliveryServer.pausedReason).toMatch(/^Paused after 3 failed logins in a row: Invalid login: 535/);
  });

  it('a send that succeeds in between resets the count', async () => {
    const agency = await newAgency(t);
    const server = await createServer(t, smtpServerInput(agency.id, good.port, { name: 'Flaky login' }));
    await verifyAndActivate(t, server.id);
    const breaker = t.app.get(CircuitBreaker);
    await breaker.recordFailure(server.id, DeliveryErrorCode.AUTH_FAILED, 'no');
    await breaker.recordFailure(server.id, DeliveryErrorCode.AUTH_FAILED, 'no');
    // A real send through the worker: routing sees the counted failures, so the success resets them.
    const { sendEmail } = await t.gqlOk<{ sendEmail: { id: string } }>(SEND, { input: { accountId: agency.id, from: 'news@brand.example', to: 'reset@example.com', subject: 'ok', text: 'ok' } });
    await waitFor('the send to be SENT', async () => (await t.gqlOk<{ message: { status: string } }>(`query($id: ID!) { message(id: $id) { status } }`, { id: sendEmail.id })).message.status === 'SENT', 10_000);
    await breaker.recordFailure(server.id, DeliveryErrorCode.AUTH_FAILED, 'no');
    const read = await t.gqlOk<{ deliveryServer: { status: string } }>(`query($id: ID!) { deliveryServer(id: $id) { status } }`, { id: server.id });
    expect(read.deliveryServer.status).toBe('ACTIVE');
    expect(await breaker.openUntil([server.id])).toEqual([null]);
  });
});
