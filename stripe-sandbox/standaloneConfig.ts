// What `npm run sandbox` reads: its port, from `--port N` or STRIPE_SANDBOX_PORT. The sandbox is a
// product of its own, so it parses its one variable here instead of reading the server's config.
import { parseArgs } from 'node:util';
import { z } from 'zod';

/** Every environment variable the standalone sandbox reads (.env.example lists them beside the server's). */
export const SANDBOX_VARIABLES = ['STRIPE_SANDBOX_PORT'] as const;

export const DEFAULT_SANDBOX_PORT = 12111;

const port = z.coerce.number().int().min(0).max(65535);

/** A bad `--port` (exit code 2, a usage error) or STRIPE_SANDBOX_PORT (exit code 1), with a message naming it. */
export class SandboxConfigError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
    this.name = 'SandboxConfigError';
  }
}

/** `--port N`, else STRIPE_SANDBOX_PORT, else 12111. A blank variable counts as unset, as in the server's config. */
export function sandboxPort(args: string[], env: NodeJS.ProcessEnv): number {
  const { values } = parseArgs({ args, options: { port: { type: 'string' }, host: { type: 'string' } }, allowPositionals: false });
  if (values.port !== undefined) {
    const parsed = port.safeParse(values.port);
    if (!parsed.success) throw new SandboxConfigError('--port: expected an integer from 0 to 65535', 2);
    return parsed.data;
  }
  const fromEnv = env.STRIPE_SANDBOX_PORT;
  if (fromEnv === undefined || fromEnv.trim() === '') return DEFAULT_SANDBOX_PORT;
  const parsed = port.safeParse(fromEnv);
  if (!parsed.success) throw new SandboxConfigError('Invalid environment variable STRIPE_SANDBOX_PORT: expected an integer from 0 to 65535', 1);
  return parsed.data;
}
