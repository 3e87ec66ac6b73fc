import { buildAppConfig } from '../../src/config/configuration';
import { ConfigError, validateEnv } from '../../src/config/env.validation';

describe('complaint auto-pause configuration', () => {
  it('defaults to a 0.3 % rate over at least 100 sent messages', () => {
    expect(buildAppConfig(validateEnv({})).webhooks).toEqual({ complaintPauseRate: 0.003, complaintPauseMinSent: 100, unmatchedRetentionDays: 30 });
  });

  it('reads COMPLAINT_PAUSE_RATE and COMPLAINT_PAUSE_MIN_SENT', () => {
    expect(buildAppConfig(validateEnv({ COMPLAINT_PAUSE_RATE: '0.1', COMPLAINT_PAUSE_MIN_SENT: '10' })).webhooks).toEqual({ complaintPauseRate: 0.1, complaintPauseMinSent: 10, unmatchedRetentionDays: 30 });
  });

  it('reads UNMATCHED_EVENT_RETENTION_DAYS (0: kept for ever)', () => {
    expect(buildAppConfig(validateEnv({ UNMATCHED_EVENT_RETENTION_DAYS: '0' })).webhooks.unmatchedRetentionDays).toBe(0);
    expect(buildAppConfig(validateEnv({ UNMATCHED_EVENT_RETENTION_DAYS: '7' })).webhooks.unmatchedRetentionDays).toBe(7);
  });

  it.each([
    [{ COMPLAINT_PAUSE_RATE: 'high' }, 'COMPLAINT_PAUSE_RATE'],
    [{ COMPLAINT_PAUSE_RATE: '1.5' }, 'COMPLAINT_PAUSE_RATE'],
    [{ COMPLAINT_PAUSE_RATE: '-0.1' }, 'COMPLAINT_PAUSE_RATE'],
    [{ COMPLAINT_PAUSE_MIN_SENT: '0' }, 'COMPLAINT_PAUSE_MIN_SENT'],
    [{ COMPLAINT_PAUSE_MIN_SENT: '2.5' }, 'COMPLAINT_PAUSE_MIN_SENT'],
    [{ UNMATCHED_EVENT_RETENTION_DAYS: '-1' }, 'UNMATCHED_EVENT_RETENTION_DAYS'],
    [{ UNMATCHED_EVENT_RETENTION_DAYS: 'month' }, 'UNMATCHED_EVENT_RETENTION_DAYS'],
  ])('a bad value stops the start naming the variable: %j', (env, name) => {
    let error: unknown;
    try {
      validateEnv(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variables).toEqual([name]);
  });
});
