// What every `payments-ops` command stands on: the exit codes, the one-line typed errors, the
// confirmation of destructive commands, the actor and idempotency key of an invocation, and the
// session (configuration, database, Stripe) opened the way the server opens them.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import pino from 'pino';
import Stripe from 'stripe';
import { createStripeSandbox } from '../../stripe-sandbox/sandbox';
import { serveFetchHandler } from '../../stripe-sandbox/http';
import { ConfigError, type Config, loadConfig } from '../config';
import type { Db } from '../platform/db/db';
import { isDatabaseUnavailable } from '../platform/db/errors';
import { migrate } from '../platform/db/migrate';
import { openDb } from '../platform/db/open';
import { PgliteLockedError } from '../platform/db/pgliteLock';
import { AppError } from '../platform/errors';
import { createLogger, type Logger } from '../platform/observability/logger';
import { createStripeClient } from '../stripe/client';
import { isProviderUnavailable } from '../stripe/payments';
import { type Style, styleFor, toJson, wantsColor } from './output';

/** 0 done; 1 refused (a typed error: over-refund, wrong state); 2 bad usage; 3 the database or Stripe unreachable. */
export const EXIT = { done: 0, refused: 1, usage: 2, unreachable: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure as the operator reads it: one line in words, with its typed code, and its exit code. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
  }
}

export const usage = (message: string) => new CliError('BAD_USAGE', message, EXIT.usage);
export const refused = (code: string, message: string) => new CliError(code, message, EXIT.refused);

/** Any error as a CliError: typed ones keep their code; an outage is 3; anything else is INTERNAL (1), its stack kept out. */
export function toCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof PgliteLockedError) return new CliError('DATABASE_IN_USE', error.message, EXIT.unreachable);
  if (error instanceof ConfigError) return new CliError('INVALID_CONFIGURATION', oneLine(error.message), EXIT.usage);
  if (isDatabaseUnavailable(error)) {
    return new CliError('DATABASE_UNAVAILABLE', `The database could not be reached (${oneLine((error as Error).message)})`, EXIT.unreachable);
  }
  if (error instanceof AppError) {
    const reason = typeof error.details?.reason === 'string' ? error.details.reason : error.code;
    if (error.code === 'SERVICE_UNAVAILABLE') return new CliError(reason, error.message, EXIT.unreachable);
    return new CliError(reason, error.message, error.code === 'BAD_USER_INPUT' ? EXIT.usage : EXIT.refused);
  }
  if (isProviderUnavailable(error)) {
    return new CliError('PAYMENT_PROVIDER_UNAVAILABLE', `Stripe could not be reached (${oneLine((error as Error).message)}); nothing was changed there by this call`, EXIT.unreachable);
  }
  return new CliError('INTERNAL', oneLine(error instanceof Error ? error.message : String(error)), EXIT.refused);
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, '; ').trim();

/** Where a command writes, and how: JSON for scripts, styled lines for a person. */
export interface Io {
  json: boolean;
  style: Style;
  /** stdin and stdout are a terminal: prompts and a live progress bar are possible. */
  interactive: boolean;
  out: (line: string) => void;
  err: (line: string) => void;
  /** Rewrites the current terminal line (progress); a no-op off a terminal. */
  status: (line: string) => void;
  /** Where a question is answered (stdin) and asked (stderr: stdout is the command's output only). */
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
}

/** The streams an invocation talks through: the process's, or a test's stand-ins (a fake terminal). */
export interface Streams {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

/**
 * A progress line cut to the terminal's width: a line that wraps cannot be redrawn with \r (each
 * redraw would leave the wrapped part behind, one more line per frame).
 */
export function fitToWidth(line: string, columns: number | undefined): string {
  if (!columns || columns < 2) return line;
  const chars = Array.from(line);
  return chars.length < columns ? line : `${chars.slice(0, columns - 2).join('')}…`;
}

export function streamIo(json: boolean, streams: Streams): Io {
  const { stdin, stdout, stderr } = streams;
  const interactive = Boolean(stdin.isTTY && stdout.isTTY);
  // A progress bar only on a terminal, and never into JSON: off one, only the final counters print.
  const live = Boolean(stdout.isTTY) && !json;
  return {
    json,
    style: styleFor(!json && wantsColor(stdout, streams.env)),
    interactive,
    out: (line) => stdout.write(`${line}\n`),
    err: (line) => stderr.write(`${line}\n`),
    status: (line) => {
      if (live) stdout.write(`\r\x1b[2K${fitToWidth(line, stdout.columns)}`);
    },
    input: stdin,
    // Questions go to stderr, so that stdout holds the command's output only (a --json document stays whole).
    output: stderr,
  };
}

export function processIo(json: boolean): Io {
  return streamIo(json, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
}

/** The command's result: JSON, or the lines for a person. */
export function emit(io: Io, json: unknown, lines: () => string[]): void {
  if (io.json) io.out(toJson(json));
  else for (const line of lines()) io.out(line);
}

/** Asks a yes/no question on the terminal; only y or yes (any case) is yes. */
export async function askYesNo(question: string, input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<boolean> {
  const rl = createInterface({ input, output, terminal: false });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}

/**
 * A destructive command goes ahead with --yes, or with a yes at the terminal. Off a terminal without
 * --yes it is refused (exit 2) rather than left waiting for an answer nobody can give.
 */
export async function confirm(io: Io, question: string, yes: boolean, ask = askYesNo): Promise<void> {
  if (yes) return;
  if (!io.interactive) throw new CliError('CONFIRMATION_REQUIRED', 'not on a terminal, so there is no one to confirm: pass --yes to go ahead', EXIT.usage);
  if (!(await ask(question, io.input, io.output))) throw new CliError('NOT_CONFIRMED', 'not confirmed: nothing was done', EXIT.refused);
}

/** Who acts, in audit rows and logs: the operating-system user at this host. */
export function cliActor(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? process.env.LOGNAME ?? 'unknown';
  }
  return `cli:${user}@${hostname()}`;
}

/** The key of an invocation: the one given to redo a failed call, or a new one. Printed, so it can be given. */
export function idempotencyKey(given: string | undefined): string {
  return given ?? `cli-${randomUUID()}`;
}

export interface Session {
  config: Config;
  db: Db;
  logger: Logger;
  /** The Stripe client, made on first use: read-only commands never need Stripe. */
  stripe: () => Stripe;
  /** Stripe's clock, when it is a sandbox in this process (a pass reads time from it, as the server's does). */
  stripeNow?: () => Date;
  close: () => Promise<void>;
}

/** Where `npm start` keeps its sandbox (compose.ts's DEFAULT_STRIPE_SANDBOX_FILE; not imported, which would load the whole server). */
export const SERVER_SANDBOX_FILE = join('.data', 'stripe-sandbox.json');

/**
 * Sandbox mode on PGlite with no STRIPE_API_BASE: the server keeps its sandbox in this process's place
 * (.data/stripe-sandbox.json), and the PGlite lock means no server is running on it now. So the CLI
 * runs that sandbox itself, from the same state, and writes it back when done; events it makes wait
 * in it and reach the server's endpoint once the server runs it again.
 */
async function sandboxInProcess(): Promise<{ url: string; now: () => Date; close: () => Promise<void> }> {
  const sandbox = createStripeSandbox({ publicUrl: 'http://127.0.0.1', stateFile: SERVER_SANDBOX_FILE, log: (line) => process.stderr.write(`${line}\n`) });
  const served = await serveFetchHandler(sandbox.handle, { port: 0, host: '127.0.0.1' });
  return {
    url: served.url,
    now: () => new Date(sandbox.core.clock.now() * 1000),
    close: async () => {
      await served.close();
      await sandbox.close();
    },
  };
}

/**
 * The server's configuration (`.env` in the working directory, then the environment), its database
 * with pending migrations applied, and its Stripe: the real API with STRIPE_SECRET_KEY, else the API at
 * STRIPE_API_BASE (a `npm run sandbox`), else the sandbox a running server in sandbox mode serves at
 * its HOST and PORT.
 */
export async function openSession(env: NodeJS.ProcessEnv = process.env): Promise<Session> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig(env);
  // Logs go to stderr, warnings and worse unless LOG_LEVEL asks for more: stdout is the command's output.
  // Written synchronously: pino's default buffers them, so a log line could land after the command's
  // final error line (which is then no longer the last), or be lost when the process exits.
  const logger = createLogger({ level: env.LOG_LEVEL ?? 'warn', destination: pino.destination({ dest: 2, sync: true }) });
  const db = await openDb(config.database, logger);
  try {
    await migrate(db);
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
  // Elsewhere in sandbox mode (PostgreSQL), the sandbox a running server serves at HOST:PORT.
  const local = config.stripe.mode === 'sandbox' && !config.stripe.apiBase && !config.isProduction && config.database.kind === 'pglite' ? await sandboxInProcess() : undefined;
  let stripe: Stripe | undefined;
  return {
    config,
    db,
    logger,
    stripe: () => (stripe ??= createStripeClient({ ...config.stripe, maxNetworkRetries: Math.min(config.stripe.maxNetworkRetries, 1) }, local?.url ?? `http://${config.host}:${config.port}`)),
    stripeNow: local?.now,
    close: async () => {
      await local?.close();
      await db.close();
    },
  };
}
