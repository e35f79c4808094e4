// `npm run simulate -- --seed 42 --days 30 [--engine pglite|postgres]`: a seeded run of the simulated
// business against the real server code and the sandbox (docs/simulation.md). Exit 0 when every
// invariant held on every day, 1 on a violation (after shrinking it), 2 on bad arguments.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { openDatabase } from '../simulation/database';
import { DEFAULT_OPTIONS } from '../simulation/plan';
import { formatReport } from '../simulation/report';
import { runSimulation } from '../simulation/run';
import { shrink } from '../simulation/shrink';

const argv = await yargs(hideBin(process.argv))
  .scriptName('npm run simulate --')
  .option('seed', { type: 'number', describe: 'the run seed (default: a random one, printed)' })
  .option('days', { type: 'number', default: DEFAULT_OPTIONS.days, describe: 'simulated days' })
  .option('customers', { type: 'number', default: DEFAULT_OPTIONS.customersPerDay, describe: 'customers (payment attempts) per day' })
  .option('fault-rate', { type: 'number', default: DEFAULT_OPTIONS.faultRate, describe: 'probability of a fault at each step, 0 to 1' })
  .option('staff-per-10', { type: 'number', default: DEFAULT_OPTIONS.staffPer10, describe: 'staff actions per 10 customers' })
  .option('concurrency', { type: 'number', default: 1, describe: 'customers served at once (the replay is exact at any number: a step with a fault runs alone)' })
  .option('engine', { choices: ['pglite', 'postgres'] as const, default: 'pglite' as const, describe: 'postgres: a throwaway database on DATABASE_URL' })
  .option('shrink', { type: 'boolean', default: true, describe: 'on a violation, look for the smallest run that still fails' })
  .check((a) => {
    if (a.seed !== undefined && (!Number.isInteger(a.seed) || a.seed < 0 || a.seed > 0xffffffff)) throw new Error('--seed: an integer from 0 to 4294967295');
    if (!Number.isInteger(a.days) || a.days < 1 || a.days > 365) throw new Error('--days: an integer from 1 to 365');
    if (!Number.isInteger(a.customers) || a.customers < 0 || a.customers > 100_000) throw new Error('--customers: an integer from 0 to 100000');
    if (!(a['fault-rate'] >= 0 && a['fault-rate'] <= 1)) throw new Error('--fault-rate: a number from 0 to 1');
    if (!Number.isInteger(a.concurrency) || a.concurrency < 1 || a.concurrency > 64) throw new Error('--concurrency: an integer from 1 to 64');
    if (!(a['staff-per-10'] >= 0 && a['staff-per-10'] <= 10)) throw new Error('--staff-per-10: a number from 0 to 10');
    return true;
  })
  .strict()
  .fail((message, error) => {
    process.stderr.write(`${message ?? error?.message}\n`);
    process.exit(2);
  })
  .parse();

const seed = argv.seed ?? Math.floor(Math.random() * 0xffffffff);
const options = {
  ...DEFAULT_OPTIONS,
  seed,
  days: argv.days,
  customersPerDay: argv.customers,
  faultRate: argv['fault-rate'],
  staffPer10: argv['staff-per-10'],
  concurrency: argv.concurrency,
  openDb: () => openDatabase(argv.engine),
  log: (line: string) => process.stderr.write(`${line}\n`),
};
process.stderr.write(`simulating seed ${seed}: ${argv.days} days of ${argv.customers} customers on ${argv.engine}\n`);
const result = await runSimulation(options);
process.stdout.write(`${formatReport(result)}\n`);
if (result.failures.length > 0 && argv.shrink) {
  const first = result.failures[0]!;
  process.stderr.write(`shrinking the failure of '${first.invariant}'...\n`);
  const smallest = await shrink({ ...options, log: undefined }, first.invariant, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(`\nsmallest failing run: ${smallest.describe}\n${smallest.failure ? JSON.stringify(smallest.failure.rows.slice(0, 5)) : ''}\n`);
}
process.exit(result.failures.length > 0 ? 1 : 0);
