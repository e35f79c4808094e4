// The admin CLI's pieces that need no process: its formatters, its parsers of amounts and dates, the
// colour rule, the mapping of errors to exit codes, and the confirmation prompt.
import { PassThrough } from 'node:stream';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { normaliseSince, parseMajorAmount, passFailure } from '../../server/cli/commands';
import { duration, money, progressLine, relativeTime, styleFor, table, wantsColor, when } from '../../server/cli/output';
import { askYesNo, CliError, confirm, EXIT, type Io, SERVER_SANDBOX_FILE, toCliError } from '../../server/cli/runtime';
import { DEFAULT_STRIPE_SANDBOX_FILE } from '../../server/compose';
import { DatabaseUnavailableError } from '../../server/platform/db/errors';
import { PgliteLockedError } from '../../server/platform/db/pgliteLock';
import { BadUserInputError, ConflictError } from '../../server/platform/errors';

describe('table', () => {
  it('aligns every column to its widest cell, two spaces apart, without trailing blanks', () => {
    expect(table(['ID', 'AMOUNT', 'NOTE'], [['a', '$1.00', ''], ['bbbb', '$1,000.00', 'x']])).toEqual(['ID    AMOUNT     NOTE', 'a     $1.00', 'bbbb  $1,000.00  x']);
  });

  it('does not count colour codes as width', () => {
    const style = styleFor(true);
    const [header, row] = table(['A', 'B'], [[style.red('xx'), 'y']], style);
    expect(header).toBe(style.bold('A   B'));
    expect(row!.replace(/\x1b\[[0-9;]*m/g, '')).toBe('xx  y');
  });
});

describe('money and times', () => {
  it('formats the minor unit with its currency, zero-decimal currencies as whole units', () => {
    expect(money(2970, 'usd')).toBe('$29.70');
    expect(money(500, 'jpy')).toBe('¥500');
    expect(money(null, 'usd')).toBe('-');
  });

  it('says times relative and absolute', () => {
    const now = new Date('2026-12-07T12:00:00Z');
    expect(relativeTime(new Date('2026-12-07T11:57:00Z'), now)).toBe('3 min ago');
    expect(relativeTime(new Date('2026-12-07T14:00:00Z'), now)).toBe('in 2 h');
    expect(relativeTime(new Date('2026-12-07T11:59:58Z'), now)).toBe('just now');
    expect(when('2026-12-05T12:00:00Z', now)).toBe('2026-12-05 12:00:00Z (2 d ago)');
    expect(when(null, now)).toBe('-');
    expect(duration(3725)).toBe('1 h 2 min');
  });

  it('draws a progress line with the counters', () => {
    expect(progressLine({ checked: 12, synced: 3, orphansFound: 1 }, 0, 5)).toBe('[=    ] checked 12  synced 3  orphans found 1');
    expect(progressLine({ checked: 0, synced: 0, orphansFound: 0 }, 6, 5)).toBe('[  =  ] checked 0  synced 0  orphans found 0');
  });
});

describe('colour', () => {
  it('only on a terminal, and never with NO_COLOR set to something', () => {
    expect(wantsColor({ isTTY: true }, {})).toBe(true);
    expect(wantsColor({ isTTY: false }, {})).toBe(false);
    expect(wantsColor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(wantsColor({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(styleFor(false).red('x')).toBe('x');
  });
});

describe('parsers', () => {
  it('reads an amount in major units as the minor unit of the currency', () => {
    expect(parseMajorAmount('29.70', 'usd')).toBe(2970);
    expect(parseMajorAmount('29.7', 'usd')).toBe(2970);
    expect(parseMajorAmount('5', 'eur')).toBe(500);
    expect(parseMajorAmount('500', 'jpy')).toBe(500);
    for (const [text, currency] of [['29.701', 'usd'], ['-1', 'usd'], ['1e3', 'usd'], ['5.5', 'jpy'], ['', 'usd'], ['0x10', 'usd']] as const) {
      expect(() => parseMajorAmount(text, currency), text).toThrow(CliError);
    }
  });

  it('takes a bare date for --since as midnight UTC', () => {
    expect(normaliseSince('2026-12-01')).toBe('2026-12-01T00:00:00Z');
    expect(normaliseSince('2026-12-01T10:00:00+01:00')).toBe('2026-12-01T10:00:00+01:00');
    expect(normaliseSince(undefined)).toBeUndefined();
  });
});

describe('the server’s sandbox file', () => {
  it('is the one the server keeps its sandbox in', () => {
    expect(SERVER_SANDBOX_FILE).toBe(DEFAULT_STRIPE_SANDBOX_FILE);
  });
});

describe('exit codes', () => {
  it('maps bad input to 2, a refusal to 1, an outage of the database or Stripe and a held PGlite directory to 3', () => {
    expect(toCliError(new BadUserInputError('bad', { reason: 'INVALID_SINCE' }))).toMatchObject({ code: 'INVALID_SINCE', exitCode: EXIT.usage });
    expect(toCliError(new ConflictError('reused', { reason: 'IDEMPOTENCY_KEY_REUSED' }))).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', exitCode: EXIT.refused });
    expect(toCliError(new DatabaseUnavailableError(new Error('ECONNREFUSED')))).toMatchObject({ code: 'DATABASE_UNAVAILABLE', exitCode: EXIT.unreachable });
    expect(toCliError(new Stripe.errors.StripeConnectionError({ message: 'connect ECONNREFUSED' }))).toMatchObject({ code: 'PAYMENT_PROVIDER_UNAVAILABLE', exitCode: EXIT.unreachable });
    expect(toCliError(new PgliteLockedError('/data', 42, 'main.ts'))).toMatchObject({ code: 'DATABASE_IN_USE', exitCode: EXIT.unreachable });
    expect(toCliError(new Error('boom\n    at x'))).toMatchObject({ code: 'INTERNAL', exitCode: EXIT.refused, message: 'boom; at x' });
  });

  it('reads a failed pass whose run says Stripe was unreachable as 3, any other failure as 1', () => {
    expect(passFailure('run 1', 'StripeConnectionError: connect ECONNREFUSED')).toMatchObject({ code: 'PAYMENT_PROVIDER_UNAVAILABLE', exitCode: EXIT.unreachable });
    expect(passFailure('run 1', 'StripeAPIError 500: oops')).toMatchObject({ exitCode: EXIT.unreachable });
    expect(passFailure('run 1', 'StripeInvalidRequestError 400 resource_missing: no')).toMatchObject({ code: 'RECONCILIATION_FAILED', exitCode: EXIT.refused });
    expect(passFailure('run 1', null)).toMatchObject({ code: 'RECONCILIATION_FAILED', exitCode: EXIT.refused });
  });
});

describe('the confirmation prompt', () => {
  async function answer(text: string) {
    const input = new PassThrough();
    const output = new PassThrough();
    let asked = '';
    output.on('data', (chunk) => (asked += String(chunk)));
    const pending = askYesNo('Refund $29.70?', input, output);
    input.end(`${text}\n`);
    return { yes: await pending, asked };
  }

  it('asks the question and takes only y or yes as yes', async () => {
    expect(await answer('y')).toEqual({ yes: true, asked: 'Refund $29.70? [y/N] ' });
    expect((await answer('YES')).yes).toBe(true);
    for (const no of ['', 'n', 'no', 'yep', 'y y']) expect((await answer(no)).yes, no).toBe(false);
  });

  const io = (interactive: boolean) => ({ interactive, input: new PassThrough(), output: new PassThrough() }) as unknown as Io;

  it('goes ahead with --yes without asking; refuses off a terminal without it (exit 2); a no on a terminal is exit 1', async () => {
    const never = async () => {
      throw new Error('asked');
    };
    await expect(confirm(io(false), 'q?', true, never)).resolves.toBeUndefined();
    await expect(confirm(io(false), 'q?', false, never)).rejects.toMatchObject({ code: 'CONFIRMATION_REQUIRED', exitCode: 2 });
    await expect(confirm(io(true), 'q?', false, async () => false)).rejects.toMatchObject({ code: 'NOT_CONFIRMED', exitCode: 1 });
    await expect(confirm(io(true), 'q?', false, async () => true)).resolves.toBeUndefined();
  });
});
