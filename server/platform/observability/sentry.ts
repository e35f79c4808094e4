// Sentry error reporting, on only when SENTRY_DSN is set. Every event passes through scrubEvent before
// it leaves the process: secrets and card-like numbers never reach Sentry.
import * as Sentry from '@sentry/node';
import type { Config } from '../../config';
import { scrubDeep } from './scrub';

export function initSentry(config: Config['sentry'], release?: string): boolean {
  if (!config.dsn) return false;
  Sentry.init({
    dsn: config.dsn,
    environment: config.environment,
    release,
    // No user info, cookies, headers or bodies: they can carry tokens and card data.
    dataCollection: { userInfo: false, cookies: false, httpHeaders: false, httpBodies: [] },
    tracesSampleRate: 0,
    // Only error reporting: no tracing instrumentation of http, pg, etc.
    enableOpenTelemetrySetup: false,
    beforeSend: (event) => scrubDeep(event),
    beforeBreadcrumb: (breadcrumb) => scrubDeep(breadcrumb),
  });
  return true;
}

export function captureError(error: unknown, context?: Record<string, unknown>): void {
  if (!Sentry.getClient()) return;
  Sentry.captureException(error, context ? { extra: context } : undefined);
}

/**
 * An alert condition that started to hold (server/ops/alertMonitor.ts). The fingerprint is the alert's
 * code, so every onset of one alert lands in one Sentry issue whatever its figures, and Sentry's alert
 * rules (a new issue, a regression) notify; the figures go as extra data, scrubbed like everything else.
 * The onset time is part of the message: the SDK's Dedupe integration drops a message identical to the
 * one before it, and two onsets with the same figures must both arrive.
 */
export function captureAlert(alert: { code: string; title: string; message: string; since: Date; figures: Record<string, unknown> }): void {
  if (!Sentry.getClient()) return;
  Sentry.captureMessage(`${alert.title} since ${alert.since.toISOString()}. ${alert.message}`, {
    level: 'warning',
    fingerprint: ['ops-alert', alert.code],
    tags: { alert: alert.code },
    extra: alert.figures,
  });
}

export async function flushSentry(timeoutMs = 2000): Promise<void> {
  if (Sentry.getClient()) await Sentry.close(timeoutMs);
}
