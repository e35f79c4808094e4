// Stripe's list envelope and cursor pagination: newest first, `limit` 1-100 (default 10),
// `starting_after` / `ending_before` ids, and `created` as a value or a range (gt, gte, lt, lte).
import { invalidRequest, resourceMissing } from './errors';
import { optionalInteger, type Params } from './params';

export interface StripeList<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  url: string;
}

export function createdFilter(params: Params): (created: number) => boolean {
  const value = params.created;
  if (value === undefined || value === '') return () => true;
  if (typeof value === 'string') {
    if (!/^\d+$/.test(value)) throw invalidRequest('Invalid integer: ' + value, 'created');
    const exact = Number(value);
    return (c) => c === exact;
  }
  if (typeof value !== 'object' || value === null) throw invalidRequest('Invalid created filter', 'created');
  const range = value as Record<string, unknown>;
  const bound = (k: string) => {
    const v = range[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !/^\d+$/.test(v)) throw invalidRequest(`Invalid integer: ${String(v)}`, `created[${k}]`);
    return Number(v);
  };
  for (const k of Object.keys(range)) if (!['gt', 'gte', 'lt', 'lte'].includes(k)) throw invalidRequest(`Received unknown parameter: created[${k}]`, `created[${k}]`);
  const gt = bound('gt');
  const gte = bound('gte');
  const lt = bound('lt');
  const lte = bound('lte');
  return (c) => (gt === undefined || c > gt) && (gte === undefined || c >= gte) && (lt === undefined || c < lt) && (lte === undefined || c <= lte);
}

/** One page of `items` (already filtered and newest first). */
export function paginate<T extends { id: string }>(items: T[], params: Params, url: string, kind: string): StripeList<T> {
  const limit = optionalInteger(params, 'limit', { min: 1, max: 100 }) ?? 10;
  const startingAfter = typeof params.starting_after === 'string' && params.starting_after !== '' ? params.starting_after : undefined;
  const endingBefore = typeof params.ending_before === 'string' && params.ending_before !== '' ? params.ending_before : undefined;
  if (startingAfter && endingBefore) throw invalidRequest('You may only specify one of these parameters: ending_before, starting_after.');
  if (startingAfter) {
    const at = items.findIndex((i) => i.id === startingAfter);
    if (at < 0) throw resourceMissing(kind, startingAfter, 'starting_after');
    const rest = items.slice(at + 1);
    return { object: 'list', data: rest.slice(0, limit), has_more: rest.length > limit, url };
  }
  if (endingBefore) {
    const at = items.findIndex((i) => i.id === endingBefore);
    if (at < 0) throw resourceMissing(kind, endingBefore, 'ending_before');
    const before = items.slice(0, at);
    return { object: 'list', data: before.slice(Math.max(0, before.length - limit)), has_more: before.length > limit, url };
  }
  return { object: 'list', data: items.slice(0, limit), has_more: items.length > limit, url };
}
