// The RETENTION_* variables: defaults as seed 001 asks, values checked at start-up with an error that
// names the variable (and never echoes its value), and RETENTION_SCHEDULE=off leaving the job out.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config';

describe('RETENTION_* configuration', () => {
  it('defaults to 24 months of payment logs, 7 days of idempotency keys, 90 days of payloads and attempts, daily at 03:17', () => {
    expect(loadConfig({}).retention).toEqual({
      paymentLogsDays: 730,
      idempotencyKeysDays: 7,
      webhookPayloadDays: 90,
      makeAttemptsDays: 90,
      batchSize: 1000,
      schedule: '17 3 * * *',
      overwriteSettings: false,
    });
  });

  it('takes other limits, a cron pattern, and off', () => {
    const config = loadConfig({
      RETENTION_PAYMENT_LOGS_DAYS: '1095',
      RETENTION_IDEMPOTENCY_KEYS_DAYS: '1',
      RETENTION_WEBHOOK_PAYLOAD_DAYS: '30',
      RETENTION_MAKE_ATTEMPTS_DAYS: '365',
      RETENTION_BATCH_SIZE: '500',
      RETENTION_SCHEDULE: '0 */6 * * *',
    });
    expect(config.retention).toEqual({ paymentLogsDays: 1095, idempotencyKeysDays: 1, webhookPayloadDays: 30, makeAttemptsDays: 365, batchSize: 500, schedule: '0 */6 * * *', overwriteSettings: false });
    expect(loadConfig({ RETENTION_SCHEDULE: 'off' }).retention.schedule).toBeUndefined();
  });

  it.each([
    ['RETENTION_PAYMENT_LOGS_DAYS', '0', 'an integer from 1 to 36500'],
    ['RETENTION_PAYMENT_LOGS_DAYS', 'forever', 'an integer from 1 to 36500'],
    ['RETENTION_IDEMPOTENCY_KEYS_DAYS', '0', 'an integer from 1 to 3650'],
    ['RETENTION_WEBHOOK_PAYLOAD_DAYS', '1.5', 'an integer from 1 to 36500'],
    ['RETENTION_MAKE_ATTEMPTS_DAYS', '-90', 'an integer from 1 to 36500'],
    ['RETENTION_BATCH_SIZE', '1000000', 'an integer from 1 to 100000'],
    ['RETENTION_SCHEDULE', 'every night', 'a cron pattern such as "17 3 * * *", or off'],
    ['RETENTION_SCHEDULE', '61 3 * * *', 'a cron pattern such as "17 3 * * *", or off'],
  ])('refuses %s=%s with an error naming the variable', (name, value, expected) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([`Invalid environment variable ${name}: expected ${expected}`]);
  });
});
