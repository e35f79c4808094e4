// What every resource handler shares: the object store, sandbox time, the event bus, and the URL the
// sandbox is reachable at (for hosted checkout pages).
import { SandboxClock } from './clock';
import { invalidRequest } from './errors';
import { Store } from './store';
import { EventBus } from './webhooks';

export interface SandboxCoreOptions {
  /** Public base URL of the sandbox (hosted checkout pages live under it), without a trailing slash. */
  publicUrl: string;
  clock?: SandboxClock;
  /** How webhook deliveries are sent (tests may pass msw-intercepted fetch). */
  fetch?: typeof fetch;
  log?: (line: string) => void;
}

/**
 * Stripe's "includable" fields: left out of an object unless expanded (an invoice's `payments`).
 * Keyed by object type, then field; each computes the field's value from the stored object. The
 * resource modules register theirs when loaded.
 */
export const includableFields = new Map<string, Map<string, (core: SandboxCore, object: Record<string, unknown>) => unknown>>();

export class SandboxCore {
  readonly store = new Store();
  readonly clock: SandboxClock;
  readonly events: EventBus;
  publicUrl: string;
  readonly log: (line: string) => void;
  /** Set by the state file (sandbox.ts) when the sandbox persists; without one a change costs nothing. */
  onChange: (() => void) | undefined;

  constructor(options: SandboxCoreOptions) {
    this.clock = options.clock ?? new SandboxClock();
    this.publicUrl = options.publicUrl.replace(/\/$/, '');
    this.events = new EventBus(this.store, this.clock, options.fetch ?? ((input, init) => fetch(input, init)), () => this.changed());
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  /**
   * Stripe's `expand[]`: each dotted path names a field holding an id, replaced by the object
   * (`latest_charge`, `data.customer` on lists, `payment_intent.latest_charge`). At most 4 levels.
   */
  expand<T>(value: T, paths: string[]): T {
    for (const path of paths) {
      const parts = path.split('.');
      if (parts.length > 4) throw invalidRequest(`You cannot expand more than 4 levels of a property. Property: ${path}`, 'expand');
      this.expandPath(value, parts, path);
    }
    return value;
  }

  private expandPath(target: unknown, parts: string[], fullPath: string): void {
    if (target === null || typeof target !== 'object') return;
    const record = target as Record<string, unknown>;
    // `data.x` on a list applies to every item.
    if (record.object === 'list' && parts[0] === 'data' && Array.isArray(record.data)) {
      for (const item of record.data) this.expandPath(item, parts.slice(1), fullPath);
      return;
    }
    const [head, ...rest] = parts;
    if (!head) return;
    if (!(head in record)) {
      const include = typeof record.object === 'string' ? includableFields.get(record.object)?.get(head) : undefined;
      if (!include) throw invalidRequest(`This property cannot be expanded (${fullPath}).`, 'expand');
      record[head] = include(this, record);
    }
    let field = record[head];
    if (typeof field === 'string') {
      const found = this.store.find(field);
      if (found) {
        field = structuredClone(found);
        record[head] = field;
      }
    }
    if (rest.length > 0) this.expandPath(field, rest, fullPath);
  }

  /** Something in the sandbox's state changed: a persisting sandbox schedules a write. */
  changed(): void {
    this.onChange?.();
  }

  reset(): void {
    this.store.clear();
    this.events.reset();
    this.clock.reset();
  }
}
