// `npm run apikey -- <command>`: create, list and revoke the API keys machine clients (storefronts,
// Make scenarios) authenticate with. A new key is printed once; the database keeps only its hash.
//
//   npm run apikey -- create --name "Main storefront" --scope storefront
//   npm run apikey -- list
//   npm run apikey -- revoke <id>
//
// Exit codes: 0 done, 1 failed (unknown id, database or configuration error), 2 bad arguments.
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { API_KEY_SCOPES, createApiKey } from '../auth/apiKeys';
import { type ApiKeyRow, type ApiKeyScope, listApiKeys, revokeApiKey } from '../auth/apiKeys.sql';
import { ConfigError, loadConfig } from '../config';
import type { Queryable } from '../platform/db/db';
import { migrate } from '../platform/db/migrate';
import { openDb } from '../platform/db/open';
import { BadUserInputError } from '../platform/errors';
import { isUuid } from '../platform/ids';

export const USAGE = 'usage: npm run apikey -- create --name <name> --scope storefront|make | list | revoke <id>';

export type ApiKeyCommand =
  | { command: 'create'; name: string; scope: ApiKeyScope }
  | { command: 'list' }
  | { command: 'revoke'; id: string }
  | { command: 'help' };

/** Where the command writes: `out` for results, `err` for problems (one line each). */
export interface CliOutput {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Bad arguments: the message is one line and names what was wrong. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Parses argv (without the node and script paths) into a command, or throws a UsageError. */
export function parseApiKeyCommand(argv: readonly string[]): ApiKeyCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        name: { type: 'string' },
        scope: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    // parseArgs explains unknown options and missing values; keep its first line only.
    throw new UsageError(String((error as Error).message).split('\n')[0]!);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === 'help') return { command: 'help' };

  const noExtra = (allowed: number) => {
    if (rest.length > allowed) throw new UsageError(`unexpected argument "${rest[allowed]}" for ${command}`);
  };
  const noOptions = () => {
    if (values.name !== undefined || values.scope !== undefined) throw new UsageError(`${command} takes no --name or --scope`);
  };

  switch (command) {
    case 'create': {
      noExtra(0);
      const name = values.name?.trim();
      if (!name) throw new UsageError('create needs --name <name>');
      if (name.length > 100) throw new UsageError('--name must be at most 100 characters');
      if (values.scope === undefined) throw new UsageError(`create needs --scope ${API_KEY_SCOPES.join('|')}`);
      if (!API_KEY_SCOPES.includes(values.scope as ApiKeyScope)) {
        throw new UsageError(`unknown scope "${values.scope}": expected ${API_KEY_SCOPES.join(' or ')}`);
      }
      return { command: 'create', name, scope: values.scope as ApiKeyScope };
    }
    case 'list':
      noExtra(0);
      noOptions();
      return { command: 'list' };
    case 'revoke': {
      noOptions();
      const id = rest[0];
      if (!id) throw new UsageError('revoke needs the id of the key (see list)');
      noExtra(1);
      if (!isUuid(id)) throw new UsageError(`"${id}" is not a key id (a UUID, see list)`);
      return { command: 'revoke', id: id.toLowerCase() };
    }
    case undefined:
      throw new UsageError('a command is required');
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

const formatDate = (date: Date | null) => (date ? date.toISOString() : '-');

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
}

function listLines(keys: ApiKeyRow[]): string[] {
  if (keys.length === 0) return ['No API keys.'];
  return table([
    ['ID', 'NAME', 'SCOPE', 'PREFIX', 'CREATED', 'LAST USED', 'REVOKED'],
    ...keys.map((k) => [k.id, k.name, k.scope, `${k.prefix}…`, formatDate(k.created_at), formatDate(k.last_used_at), formatDate(k.revoked_at)]),
  ]);
}

/** Carries out a parsed command against the database; returns the exit code. */
export async function executeApiKeyCommand(db: Queryable, command: ApiKeyCommand, output: CliOutput): Promise<number> {
  switch (command.command) {
    case 'help':
      output.out(USAGE);
      return 0;
    case 'create': {
      const { key, row } = await createApiKey(db, command.name, command.scope);
      output.out(`Created API key "${row.name}"`);
      output.out(`  id     ${row.id}`);
      output.out(`  scope  ${row.scope}`);
      output.out(`  key    ${key}`);
      output.out('Store the key now: it is shown only this once (only its hash is kept).');
      return 0;
    }
    case 'list':
      for (const line of listLines(await listApiKeys(db))) output.out(line);
      return 0;
    case 'revoke': {
      const existing = (await listApiKeys(db)).find((k) => k.id === command.id);
      if (!existing) {
        output.err(`apikey: no API key with id ${command.id}`);
        return 1;
      }
      if (existing.revoked_at) {
        output.out(`API key ${existing.id} ("${existing.name}") was already revoked at ${formatDate(existing.revoked_at)}.`);
        return 0;
      }
      const revoked = await revokeApiKey(db, command.id);
      output.out(`Revoked API key ${command.id} ("${existing.name}") at ${formatDate(revoked?.revoked_at ?? null)}.`);
      return 0;
    }
  }
}

/**
 * Parses and runs one command; returns the exit code. Bad arguments print one usage line to `err`
 * and return 2 without touching the database.
 */
export async function runApiKeyCommand(db: Queryable, argv: readonly string[], output: CliOutput): Promise<number> {
  const command = parseOrReport(argv, output);
  if (typeof command === 'number') return command;
  try {
    return await executeApiKeyCommand(db, command, output);
  } catch (error) {
    if (error instanceof BadUserInputError) return usageError(error, output);
    throw error;
  }
}

/** The parsed command, or the exit code after printing the usage error. */
function parseOrReport(argv: readonly string[], output: CliOutput): ApiKeyCommand | number {
  try {
    return parseApiKeyCommand(argv);
  } catch (error) {
    if (error instanceof UsageError) return usageError(error, output);
    throw error;
  }
}

function usageError(error: Error, output: CliOutput): number {
  output.err(`apikey: ${error.message} (${USAGE})`);
  return 2;
}

async function main(argv: string[]): Promise<number> {
  const output: CliOutput = { out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`) };
  // Arguments first: a typo needs no configuration or database.
  const command = parseOrReport(argv, output);
  if (typeof command === 'number') return command;
  if (command.command === 'help') {
    output.out(USAGE);
    return 0;
  }

  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      output.err(error.message);
      return 1;
    }
    throw error;
  }
  const db = await openDb(config.database);
  try {
    await migrate(db);
    return await runApiKeyCommand(db, argv, output);
  } finally {
    await db.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`apikey: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
