import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type Logger } from 'pino';

/** What every log line written while serving one request (or applying one event) carries. */
export interface LogScope {
  requestId?: string;
  eventId?: string;
}

const scope = new AsyncLocalStorage<LogScope>();

/** Runs fn with the given ids attached to every log line it (and anything it awaits) writes. */
export function withLogScope<T>(ids: LogScope, fn: () => T): T {
  return scope.run({ ...scope.getStore(), ...ids }, fn);
}

export function currentLogScope(): LogScope {
  return scope.getStore() ?? {};
}

// Header and field names whose values never reach a log line.
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["stripe-signature"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'authorization',
  'apiKey',
  'token',
  'password',
  'secret',
  '*.apiKey',
  '*.token',
  '*.password',
  '*.secret',
];

export function createLogger(options: { level: string; pretty?: boolean; destination?: pino.DestinationStream }): Logger {
  const pinoOptions: pino.LoggerOptions = {
    level: options.level,
    base: { service: 'payments-ops' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    mixin: () => ({ ...currentLogScope() }),
  };
  if (options.destination) return pino(pinoOptions, options.destination);
  // JSON everywhere; pretty only for a person at a terminal (pino-pretty is a dev dependency).
  if (options.pretty ?? process.stdout.isTTY) {
    try {
      return pino({ ...pinoOptions, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,service' } } });
    } catch {
      // pino-pretty not installed (production image): fall back to JSON.
    }
  }
  return pino(pinoOptions);
}

export type { Logger };
