/**
 * Stripe's `data.previous_attributes` on `*.updated` events: the old value of every top-level field
 * an update changed (compared by value).
 */
export function previousAttributes<T extends object>(before: T, after: T): Record<string, unknown> {
  const previous: Record<string, unknown> = {};
  for (const key of Object.keys(after) as Array<keyof T>) {
    if (JSON.stringify(after[key]) !== JSON.stringify(before[key])) previous[key as string] = before[key] ?? null;
  }
  return previous;
}
