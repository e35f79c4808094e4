// The sandbox's state on disk, so that it survives a restart as Stripe's objects do: the database
// remembers the Checkout Sessions and PaymentIntents it recorded, and they must still open, pay and
// read after `npm start` is restarted. Only `npm start` (and tests that ask for it) give a file; every
// other sandbox stays in memory, so the checkout hot path of the tests pays nothing for this.
//
// Writes are debounced (one write per burst of changes, at most every `debounceMs`) and atomic (a
// temporary file renamed over the old one), so a crash leaves the last complete state; a crash also
// loses the changes of the last `debounceMs`, which the server copes with as with an object deleted at
// Stripe (startPayment replaces an attempt whose object is missing). stop() flushes what is pending.
import { readFileSync, renameSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SandboxCore } from './core';
import { checkoutSessionInternals, type SessionInternals } from './resources/checkoutSessions';
import { paymentIntentInternals } from './resources/paymentIntents.machine';
import { paymentMethodBehaviours, type TestBehaviour } from './resources/paymentMethods';
import type { Router, StoredIdempotentResponse } from './router';
import type { StripeObject } from './store';
import { SANDBOX_API_VERSION, type WebhookState } from './webhooks';

/** Bumped when the shape below changes incompatibly; a file of another version is set aside, not read. */
const STATE_VERSION = 1;

export interface SandboxState {
  version: number;
  apiVersion: string;
  /** Sandbox time's lead over real time (advanced by tests or the control API). */
  clockOffsetSeconds: number;
  /** Every object by kind, oldest first. Ids are random, so there is no counter to keep. */
  objects: Record<string, StripeObject[]>;
  idempotency: Array<[string, StoredIdempotentResponse]>;
  webhooks: WebhookState;
  /** What resources keep off their objects, as Stripe does not show it. */
  internals: {
    paymentMethods: Array<[string, TestBehaviour]>;
    paymentIntents: { returnUrls: Array<[string, string | null]>; authenticated: string[] };
    checkoutSessions: Record<string, SessionInternals>;
  };
}

export function snapshotSandbox(core: SandboxCore, router: Router): SandboxState {
  return {
    version: STATE_VERSION,
    apiVersion: SANDBOX_API_VERSION,
    clockOffsetSeconds: core.clock.offset,
    objects: core.store.snapshot(),
    idempotency: router.idempotencySnapshot(),
    webhooks: core.events.snapshot(),
    internals: {
      paymentMethods: paymentMethodBehaviours.snapshot(core),
      paymentIntents: paymentIntentInternals.snapshot(core),
      checkoutSessions: checkoutSessionInternals.snapshot(core),
    },
  };
}

export function restoreSandbox(core: SandboxCore, router: Router, state: SandboxState): void {
  core.clock.restoreOffset(state.clockOffsetSeconds);
  core.store.restore(state.objects);
  router.restoreIdempotency(state.idempotency);
  core.events.restore(state.webhooks);
  paymentMethodBehaviours.restore(core, state.internals.paymentMethods);
  paymentIntentInternals.restore(core, state.internals.paymentIntents);
  checkoutSessionInternals.restore(core, state.internals.checkoutSessions);
}

export interface SandboxStateFileOptions {
  file: string;
  /** The longest a change waits before it is written. */
  debounceMs?: number;
  log: (line: string) => void;
}

export class SandboxStateFile {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  private readonly debounceMs: number;

  constructor(
    private readonly core: SandboxCore,
    private readonly router: Router,
    private readonly options: SandboxStateFileOptions,
  ) {
    this.debounceMs = options.debounceMs ?? 200;
  }

  /**
   * Restores the state the file holds, if any (at start-up, so synchronously). A file that cannot be
   * read as a state of this version is renamed aside (kept for a person to look at) and the sandbox
   * starts empty: refusing to start would leave `npm start` broken until someone deletes it by hand.
   */
  load(): 'restored' | 'none' | 'set_aside' {
    let text: string;
    try {
      text = readFileSync(this.options.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
      throw error;
    }
    try {
      const state = JSON.parse(text) as SandboxState;
      if (state?.version !== STATE_VERSION || typeof state.objects !== 'object' || state.objects === null) {
        throw new Error(`expected a state of version ${STATE_VERSION}`);
      }
      restoreSandbox(this.core, this.router, state);
      return 'restored';
    } catch (error) {
      const aside = `${this.options.file}.unreadable-${Date.now()}`;
      this.core.reset();
      this.router.reset();
      renameSync(this.options.file, aside);
      this.options.log(`sandbox: could not read the Stripe sandbox state ${this.options.file} (${(error as Error).message}); moved it to ${aside} and started empty`);
      return 'set_aside';
    }
  }

  /** A change to write soon; many changes in a burst make one write. */
  changed(): void {
    if (this.closed) return;
    this.dirty = true;
    if (this.timer || this.writing) return;
    this.timer = setTimeout(() => void this.write(), this.debounceMs);
    // Shutdown flushes explicitly; the timer must not keep a process alive that is otherwise done.
    this.timer.unref();
  }

  /** Writes whatever is pending now and resolves once it is on disk. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.writing) await this.writing;
    if (this.dirty) await this.write();
  }

  /** Flushes and stops writing (further changes are not persisted). */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }

  private write(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty = false;
    // Serialised in one synchronous step, so the file is one consistent state.
    const text = JSON.stringify(snapshotSandbox(this.core, this.router));
    const file = this.options.file;
    const temp = `${file}.${process.pid}.tmp`;
    this.writing = (async () => {
      try {
        await mkdir(dirname(file), { recursive: true });
        // 0600: the file holds webhook signing secrets.
        await writeFile(temp, text, { mode: 0o600 });
        await rename(temp, file);
        return true;
      } catch (error) {
        // Tried again with the next change or at flush, not in a loop that would fill the log.
        this.dirty = true;
        this.options.log(`sandbox: could not write the Stripe sandbox state to ${file}: ${(error as Error).message}`);
        return false;
      }
    })().then((written) => {
      this.writing = undefined;
      // Changes made while this write was under way.
      if (written && this.dirty && !this.closed) this.changed();
    });
    return this.writing;
  }
}
