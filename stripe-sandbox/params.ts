// Request parameters as Stripe receives them: form-encoded bodies with bracket notation
// (`metadata[k]=v`, `line_items[0][price]=...`, `expand[]=x`) and the same in query strings.
import qs from 'qs';
import { invalidRequest, missingParam, unknownParam } from './errors';

export type Params = Record<string, unknown>;

export function parseParams(text: string): Params {
  // Stripe allows large arrays (line items, expand); qs's default arrayLimit of 20 would turn index
  // 21 into an object key.
  return qs.parse(text, { arrayLimit: 1000, depth: 10, parameterLimit: 10_000, allowDots: false }) as Params;
}

/** Rejects any parameter not in `allowed`, as Stripe does ("Received unknown parameter"). */
export function rejectUnknown(params: Params, allowed: readonly string[], prefix = ''): void {
  for (const key of Object.keys(params)) {
    if (!allowed.includes(key)) throw unknownParam(prefix ? `${prefix}[${key}]` : key);
  }
}

export function requireString(params: Params, name: string): string {
  const value = params[name];
  if (value === undefined || value === '') throw missingParam(name);
  if (typeof value !== 'string') throw invalidRequest(`Invalid ${name}: must be a string`, name);
  return value;
}

export function optionalString(params: Params, name: string): string | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidRequest(`Invalid ${name}: must be a string`, name);
  return value;
}

export function optionalInteger(params: Params, name: string, opts: { min?: number; max?: number } = {}): number | undefined {
  const value = params[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || !/^-?\d+$/.test(value)) throw invalidRequest(`Invalid integer: ${String(value)}`, name);
  const n = Number(value);
  if (opts.min !== undefined && n < opts.min) throw invalidRequest(`Invalid ${name}: must be at least ${opts.min}`, name);
  if (opts.max !== undefined && n > opts.max) throw invalidRequest(`Invalid ${name}: must be at most ${opts.max}`, name);
  return n;
}

export function requireInteger(params: Params, name: string, opts: { min?: number; max?: number } = {}): number {
  const n = optionalInteger(params, name, opts);
  if (n === undefined) throw missingParam(name);
  return n;
}

export function optionalBoolean(params: Params, name: string): boolean | undefined {
  const value = params[name];
  if (value === undefined || value === '') return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw invalidRequest(`Invalid boolean: ${String(value)}`, name);
}

export function optionalEnum<T extends string>(params: Params, name: string, values: readonly T[]): T | undefined {
  const value = params[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || !values.includes(value as T)) {
    throw invalidRequest(`Invalid ${name}: must be one of ${values.join(', ')}`, name);
  }
  return value as T;
}

export function optionalObject(params: Params, name: string): Params | undefined {
  const value = params[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidRequest(`Invalid ${name}: must be a hash`, name);
  return value as Params;
}

/** An array parameter: `items[0][price]=…` (qs gives an array, or an object keyed by index). */
export function optionalArray(params: Params, name: string): Params[] | undefined {
  const value = params[name];
  if (value === undefined || value === '') return undefined;
  const list = Array.isArray(value) ? value : typeof value === 'object' && value !== null ? Object.values(value) : undefined;
  if (!list) throw invalidRequest(`Invalid array: ${name}`, name);
  return list as Params[];
}

export function expandList(params: Params): string[] {
  const value = params.expand;
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : typeof value === 'object' && value !== null ? Object.values(value) : [value];
  return list.map(String);
}

/**
 * Metadata as Stripe keeps it: string values, at most 50 keys, keys up to 40 characters, values up
 * to 500. On update, an empty value removes a key and `metadata=""` clears the whole map.
 */
export function applyMetadata(current: Record<string, string>, params: Params, name = 'metadata'): Record<string, string> {
  const value = params[name];
  if (value === undefined) return current;
  if (value === '') return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidRequest(`Invalid ${name}: must be a hash`, name);
  const next = { ...current };
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw invalidRequest(`Invalid value for ${name}[${key}]: must be a string`, `${name}[${key}]`);
    if (key.length > 40) throw invalidRequest(`Metadata keys can have up to 40 characters`, `${name}[${key}]`);
    if (v.length > 500) throw invalidRequest(`Metadata values can have up to 500 characters`, `${name}[${key}]`);
    if (v === '') delete next[key];
    else next[key] = v;
  }
  if (Object.keys(next).length > 50) throw invalidRequest('You can specify up to 50 keys in metadata', name);
  return next;
}
