// The sandbox's state: one collection per object type, in memory, plus a global index by id (every
// Stripe id is unique across types thanks to its prefix), used by `expand[]`.
import { resourceMissing } from './errors';

export interface StripeObject {
  id: string;
  object: string;
  created?: number;
}

export class Collection<T extends StripeObject> {
  private readonly items = new Map<string, T>();
  constructor(
    private readonly store: Store,
    /** The name Stripe's "No such …" errors use, e.g. "payment_intent". */
    readonly kind: string,
  ) {}

  get(id: string): T | undefined {
    return this.items.get(id);
  }

  require(id: string, param = 'id'): T {
    const item = this.items.get(id);
    if (!item) throw resourceMissing(this.kind, id, param);
    return item;
  }

  insert(item: T): T {
    this.items.set(item.id, item);
    this.store.index.set(item.id, item);
    return item;
  }

  delete(id: string): void {
    this.items.delete(id);
    this.store.index.delete(id);
  }

  /** Newest first, as Stripe lists. Insertion order is creation order: the clock never goes back. */
  newestFirst(filter?: (item: T) => boolean): T[] {
    const all = [...this.items.values()].reverse();
    return filter ? all.filter(filter) : all;
  }

  clear(): void {
    for (const id of this.items.keys()) this.store.index.delete(id);
    this.items.clear();
  }

  /** Every object, oldest first: the order newestFirst() relies on, kept by a snapshot. */
  all(): T[] {
    return [...this.items.values()];
  }
}

export class Store {
  readonly index = new Map<string, StripeObject>();
  private readonly collections = new Map<string, Collection<any>>();

  collection<T extends StripeObject>(kind: string): Collection<T> {
    let c = this.collections.get(kind);
    if (!c) {
      c = new Collection<T>(this, kind);
      this.collections.set(kind, c);
    }
    return c as Collection<T>;
  }

  find(id: string): StripeObject | undefined {
    return this.index.get(id);
  }

  clear(): void {
    for (const c of this.collections.values()) c.clear();
    this.index.clear();
  }

  /** Every object by kind, each kind oldest first (for the sandbox's state file). */
  snapshot(): Record<string, StripeObject[]> {
    const out: Record<string, StripeObject[]> = {};
    for (const [kind, c] of this.collections) {
      const items = c.all();
      if (items.length > 0) out[kind] = items;
    }
    return out;
  }

  /** Replaces everything with a snapshot's objects, inserted oldest first so lists keep their order. */
  restore(snapshot: Record<string, StripeObject[]>): void {
    this.clear();
    for (const [kind, items] of Object.entries(snapshot)) {
      const c = this.collection(kind);
      for (const item of items) c.insert(item);
    }
  }
}
