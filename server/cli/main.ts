// `payments-ops`: the admin CLI (issue 21) for the operator at a terminal. `npm run cli -- <command>`
// in the repository, `npx payments-ops <command>` (bin/payments-ops.js) after an install. The
// arguments are parsed by yargs (subcommands, typed options, --help per command, `completion` for the
// shell); the work is server/cli/commands.ts; docs/cli.md has every command.
//
// Exit codes: 0 done, 1 refused (a typed error: over-refund, wrong state), 2 bad usage,
// 3 the database or Stripe unreachable. An error is one line on stderr: `payments-ops: <words> (<CODE>)`.
import { pathToFileURL } from 'node:url';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import * as commands from './commands';
import { toJson } from './output';
import { cliActor, EXIT, type Io, openSession, processIo, toCliError } from './runtime';

export const CLI_NAME = 'payments-ops';

/** Options every action takes. */
const actionOptions = <T>(y: Argv<T>) =>
  y
    .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Go ahead without asking (required when not on a terminal)' })
    .option('idempotency-key', { type: 'string', describe: 'Redo a failed call with the key it printed (a new key is made otherwise)' });

const listLimit = <T>(y: Argv<T>) => y.option('limit', { type: 'number', default: 20, describe: 'How many to show (1 to 200)' });

/**
 * The parser, each command's handler given the context. `run` records the handler's promise, so the
 * caller awaits the command itself rather than yargs.
 */
export function buildParser(argv: string[], makeContext: (json: boolean) => commands.CommandContext, run: (work: Promise<void>) => void): Argv {
  const ctx = (args: { json?: boolean }) => makeContext(Boolean(args.json));
  return yargs(argv)
    .scriptName(CLI_NAME)
    .usage('$0 <command> [options]\n\nPayments operations at a terminal: the same rules as the console and the GraphQL API.')
    .option('json', { type: 'boolean', default: false, global: true, describe: 'Print machine-readable JSON instead of tables' })
    .command(
      'process-refund <target>',
      'Refund an order (the admin refund, with its guard): shows the order and what is refundable, then asks',
      (y) =>
        actionOptions(y)
          .positional('target', { type: 'string', demandOption: true, describe: 'Order id, or its PaymentIntent (pi_…) or Checkout Session (cs_…)' })
          .option('amount', { type: 'string', describe: 'In the order currency, e.g. 29.70 (default: all that is refundable)' })
          .option('reason', { type: 'string', default: 'requested_by_customer', choices: commands.REFUND_REASONS as string[] })
          .option('note', { type: 'string', describe: 'Why, for the audit log (up to 500 characters)' }),
      (a) => run(commands.processRefund(ctx(a), { target: a.target, amount: a.amount, reason: a.reason, note: a.note, yes: a.yes, idempotencyKey: a.idempotencyKey })),
    )
    .command(
      'webhook-status',
      'Stripe webhook events: counts by status, oldest unapplied, failures in the last hour; with a flag, the events',
      (y) =>
        listLimit(y)
          .option('pending', { type: 'boolean', default: false, describe: 'List events received and not yet applied' })
          .option('failed', { type: 'boolean', default: false, describe: 'List events that failed' })
          .option('type', { type: 'string', describe: 'List events of this type, e.g. payment_intent.succeeded' }),
      (a) => run(commands.webhookStatusCommand(ctx(a), { pending: a.pending, failed: a.failed, type: a.type, limit: a.limit })),
    )
    .command(
      'replay-event <eventId>',
      'Apply a stored Stripe event again now (the admin replay)',
      (y) => actionOptions(y).positional('eventId', { type: 'string', demandOption: true, describe: 'evt_…' }),
      (a) => run(commands.replayEvent(ctx(a), { eventId: a.eventId, yes: a.yes, idempotencyKey: a.idempotencyKey })),
    )
    .command(
      'subscription-info <who>',
      'A subscription, or a customer’s: status, track, period, pause and cancel, latest invoices',
      (y) => y.positional('who', { type: 'string', demandOption: true, describe: 'sub_…, a customer email or a customer id' }),
      (a) => run(commands.subscriptionInfo(ctx(a), { who: a.who })),
    )
    .command(
      'sync-order <orderId>',
      'Ask Stripe about the order now and apply what it says',
      (y) => y.positional('orderId', { type: 'string', demandOption: true }).option('idempotency-key', { type: 'string', describe: 'Redo a failed call with the key it printed' }),
      (a) => run(commands.syncOrderCommand(ctx(a), { orderId: a.orderId, idempotencyKey: a.idempotencyKey })),
    )
    .command(
      'reconcile',
      'A reconciliation pass, with a live progress bar on a terminal, then its counters',
      (y) =>
        actionOptions(y)
          .option('since', { type: 'string', describe: 'Look back to this date or time (at most 30 days), e.g. 2026-12-01' })
          .option('dry-run', { type: 'boolean', default: false, describe: 'Report what a pass would do, doing nothing' }),
      (a) => run(commands.reconcileCommand(ctx(a), { since: a.since, dryRun: a.dryRun, yes: a.yes, idempotencyKey: a.idempotencyKey })),
    )
    // The listing is the default subcommand (`orphans` or `orphans list`) rather than the parent's own
    // handler: options of a parent command are inherited by its subcommands, and `orphans resolve`
    // would take (and list in its --help) --open, --kind and --limit that mean nothing to it.
    .command('orphans', 'Orphaned payments (reconciliation findings); `orphans resolve <id>` settles one', (y) =>
      y
        .command(
          ['list', '$0'],
          'Orphaned payments, newest first (the default)',
          (l) =>
            listLimit(l)
              .option('open', { type: 'boolean', default: false, describe: 'Open ones only' })
              .option('kind', { type: 'string', describe: commands.FINDING_KINDS.join(', ') }),
          (a) => run(commands.orphansList(ctx(a), { open: a.open, kind: a.kind, limit: a.limit })),
        )
        .command(
          'resolve <id>',
          'Settle a finding: adopt the payment, cancel it at Stripe, or dismiss it with a note',
          (r) =>
            actionOptions(r)
              .positional('id', { type: 'string', demandOption: true })
              .option('adopt', { type: 'boolean', default: false })
              .option('cancel', { type: 'boolean', default: false })
              .option('dismiss', { type: 'boolean', default: false })
              .option('note', { type: 'string', describe: 'Why (required with --dismiss; up to 1,000 characters)' }),
          (a) => run(commands.orphansResolve(ctx(a), { id: a.id, adopt: a.adopt, cancel: a.cancel, dismiss: a.dismiss, note: a.note, yes: a.yes, idempotencyKey: a.idempotencyKey })),
        ),
    )
    .command('make', 'The Make outbox: deliveries, and retrying or replaying one', (y) =>
      y
        .command(
          'deliveries',
          'Make deliveries, newest first',
          (d) => listLimit(d).option('status', { type: 'string', describe: commands.MAKE_STATUSES.join(', ') }),
          (a) => run(commands.makeDeliveries(ctx(a), { status: a.status, limit: a.limit })),
        )
        .command(
          'retry <id>',
          'Send a pending or dead delivery again now',
          (d) => actionOptions(d).positional('id', { type: 'string', demandOption: true }),
          (a) => run(commands.makeResend(ctx(a), 'retry', { id: a.id, yes: a.yes, idempotencyKey: a.idempotencyKey })),
        )
        .command(
          'replay <id>',
          'Send a delivered or dead delivery once more',
          (d) => actionOptions(d).positional('id', { type: 'string', demandOption: true }),
          (a) => run(commands.makeResend(ctx(a), 'replay', { id: a.id, yes: a.yes, idempotencyKey: a.idempotencyKey })),
        )
        .demandCommand(1, 'make needs a command: deliveries, retry or replay'),
    )
    .command('apikey', 'API keys of machine clients (storefronts, Make): create, list, revoke', (y) =>
      y
        .command(
          'create',
          'Make a key; it is shown once',
          (c) =>
            c
              .option('name', { type: 'string', demandOption: true })
              .option('scope', { type: 'string', demandOption: true, choices: ['storefront', 'make'] })
              .option('idempotency-key', { type: 'string', describe: 'Redo a failed create with the key it printed: answers the key id made (never its secret again)' }),
          (a) => run(commands.apiKeyCreate(ctx(a), { name: a.name, scope: a.scope, idempotencyKey: a.idempotencyKey })),
        )
        .command('list', 'Every key: id, name, scope, prefix and dates (never the key)', (c) => c, (a) => run(commands.apiKeyList(ctx(a))))
        .command(
          'revoke <id>',
          'Refuse a key from now on',
          (c) => actionOptions(c).positional('id', { type: 'string', demandOption: true }),
          (a) => run(commands.apiKeyRevoke(ctx(a), { id: a.id, yes: a.yes, idempotencyKey: a.idempotencyKey })),
        )
        .demandCommand(1, 'apikey needs a command: create, list or revoke'),
    )
    .completion('completion', 'Print a bash/zsh completion script (source it from your shell profile)')
    .demandCommand(1, 'a command is required')
    .strict()
    .recommendCommands()
    .help()
    .alias('help', 'h')
    .version(false)
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .exitProcess(false)
    .fail((message, error) => {
      // Bad usage: yargs' message (or the error a handler threw while parsing) as one line, exit 2.
      throw Object.assign(new Error(message ?? error?.message ?? 'bad usage'), { usage: true });
    });
}

/** Parses and runs one invocation; resolves with the exit code. */
export async function main(argv: string[], io: (json: boolean) => Io = processIo): Promise<number> {
  const actor = cliActor();
  let json = argv.includes('--json');
  let work: Promise<void> | undefined;
  const makeContext = (asJson: boolean): commands.CommandContext => {
    json = asJson;
    return { io: io(asJson), actor, open: () => openSession() };
  };
  try {
    await buildParser(argv, makeContext, (promise) => (work = promise)).parseAsync();
    await work;
    return EXIT.done;
  } catch (error) {
    const err = io(json).err;
    if (error instanceof Error && (error as { usage?: boolean }).usage) {
      // yargs explains a value outside `choices` on a second line ("Invalid values:\n  Argument: scope,
      // Given: …"): the lines joined, so the one line still says what was wrong.
      err(`${CLI_NAME}: ${error.message.replace(/:?\s*\n\s*/g, ': ').trim()} (BAD_USAGE; see ${CLI_NAME} --help)`);
      return EXIT.usage;
    }
    const failure = toCliError(error);
    if (json) process.stdout.write(`${toJson({ error: { code: failure.code, message: failure.message } })}\n`);
    err(`${CLI_NAME}: ${failure.message} (${failure.code})`);
    return failure.exitCode;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(hideBin(process.argv)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${CLI_NAME}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)} (INTERNAL)\n`);
      process.exit(1);
    },
  );
}
