// `npm run sandbox` (stripe-sandbox/standalone.ts) as a real child process: the emulator on its own,
// for any Stripe client, reading nothing of the server's configuration.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = 'stripe-sandbox/standalone.ts';
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

const running: ChildProcess[] = [];
afterEach(async () => {
  for (const child of running.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  }
});

function start(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; url: Promise<string> } {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, ENTRY, ...args], { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(child);
  let output = '';
  const url = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`the sandbox exited (${code}) before listening:\n${output}`)));
  });
  return { child, url };
}

function runToExit(args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, ['--import', TSX_LOADER, ENTRY, ...args], { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 30_000 });
}

describe('npm run sandbox', () => {
  it('serves the Stripe API to the official SDK on the port given, ignoring the server’s variables, and stops on SIGTERM', async () => {
    // A value the server would refuse: the standalone sandbox does not read the server's configuration.
    const { child, url } = start(['--port', '0'], { PORT: 'not-a-port', STRIPE_SECRET_KEY: 'nonsense' });
    const base = new URL(await url);
    const stripe = new Stripe('sk_test_standalone', { host: base.hostname, port: Number(base.port), protocol: 'http', maxNetworkRetries: 0 });
    const customer = await stripe.customers.create({ email: 'standalone@example.com' });
    expect(await stripe.customers.retrieve(customer.id)).toMatchObject({ id: customer.id, email: 'standalone@example.com' });
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    expect(await exited).toEqual([0, null]);
  });

  it('refuses a bad STRIPE_SANDBOX_PORT with one line naming it, before listening', () => {
    const result = runToExit([], { STRIPE_SANDBOX_PORT: 'abc' });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe('Invalid environment variable STRIPE_SANDBOX_PORT: expected an integer from 0 to 65535');
    expect(result.stdout).toBe('');
  });

  it('refuses a bad --port as a usage error (exit 2), naming the option', () => {
    const result = runToExit(['--port', '70000'], {});
    expect(result.status).toBe(2);
    expect(result.stderr.trim()).toBe('--port: expected an integer from 0 to 65535');
    expect(result.stdout).toBe('');
  });
});
