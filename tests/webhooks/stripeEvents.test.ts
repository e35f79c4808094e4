// `npm run stripe:events` (scripts/stripe-events.ts): the list an operator registers the webhook
// endpoint with must be exactly what the translator applies, and every name on it must be one Stripe
// lets an endpoint subscribe to (a misspelt type is refused by Stripe's API, or silently never sent).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { VENDORED_SPEC } from '../../scripts/vendor-stripe-spec';
import { handledEventTypes, stripeEventsCommand } from '../../scripts/stripe-events';
import { HANDLED_EVENT_TYPES, reasonToIgnore } from '../../server/webhooks/translate';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = fileURLToPath(new URL('../../scripts/stripe-events.ts', import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** The script as `npm run stripe:events` runs it, in its own process. */
async function runScript(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', TSX_LOADER, SCRIPT, ...args], { cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const vendored = JSON.parse(readFileSync(VENDORED_SPEC, 'utf8')) as { info: { version: string }; 'x-vendored': { webhookEventTypes: string[] } };
const SPEC_EVENT_TYPES = new Set(vendored['x-vendored'].webhookEventTypes);

/**
 * Handled types Stripe added after the vendored spec (2024-04-10), so absent from its list: each must
 * be in the enabled_events type of the SDK this repository pins (`satisfies` makes the type check say
 * so), and none may be in the spec (then it needs no excuse).
 */
const NEWER_THAN_VENDORED_SPEC = ['refund.failed'] as const satisfies readonly Stripe.WebhookEndpointCreateParams.EnabledEvent[];

describe('npm run stripe:events', () => {
  it("prints the translator's handled types, one per line in alphabetical order, and nothing else", async () => {
    const { code, stdout, stderr } = await runScript([]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const lines = stdout.split('\n');
    expect(lines.pop()).toBe(''); // a final newline, no blank line
    expect(new Set(lines)).toEqual(HANDLED_EVENT_TYPES);
    expect(lines).toHaveLength(HANDLED_EVENT_TYPES.size);
    expect(lines).toEqual([...lines].sort());
  });

  it('prints the same list as one JSON array with --json', async () => {
    const { code, stdout } = await runScript(['--json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(handledEventTypes());
    expect(new Set(JSON.parse(stdout))).toEqual(HANDLED_EVENT_TYPES);
  });

  it('refuses an argument it does not know with exit 2, the usage on stderr and nothing on stdout', async () => {
    const { code, stdout, stderr } = await runScript(['--yaml']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('unknown argument --yaml');
    expect(stderr).toContain('usage: npm run stripe:events');
    expect(stripeEventsCommand(['--json', 'extra'])).toMatchObject({ code: 2, stdout: '' });
  });

  it('lists only types the applier acts on: each is not ignored, and a type left off is', () => {
    for (const type of handledEventTypes()) expect(reasonToIgnore({ livemode: false, type }, false), type).toBeNull();
    expect(reasonToIgnore({ livemode: false, type: 'charge.succeeded' }, false)).toBe('unhandled event type charge.succeeded');
  });

  it(`lists only types Stripe lets an endpoint subscribe to (the vendored spec ${vendored.info.version}, or named here as newer)`, () => {
    expect(SPEC_EVENT_TYPES.size).toBeGreaterThan(200);
    const unknown = handledEventTypes().filter((type) => !SPEC_EVENT_TYPES.has(type));
    expect(unknown).toEqual([...NEWER_THAN_VENDORED_SPEC]);
    expect(SPEC_EVENT_TYPES.has('*')).toBe(true);
    expect(handledEventTypes()).not.toContain('*');
  });
});
