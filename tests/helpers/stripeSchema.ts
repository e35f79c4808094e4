// Validates objects the sandbox returns against Stripe's published OpenAPI description (API
// 2024-04-10), as vendored in tests/fixtures/stripe-openapi/: the component schemas of the objects
// we use, closed under $ref, and Stripe's sample objects for them (README.md there says where they
// come from; `npm run vendor:stripe-spec` regenerates them from a full spec). Nothing here reads
// outside the repository. OpenAPI 3.0 is converted to JSON Schema (nullable → a null branch, vendor
// x- keys dropped) and compiled with Ajv.
//
// The spec predates the API version the SDK pins (2026-10-28.endive); the fields that changed since
// are listed in tests/fixtures/stripe-openapi/notes.md and excused here by name, nothing else.
// Schemas do not forbid extra fields, so `stripeShapeProblems` also checks that every property
// Stripe returns is present (the real API always returns them, as null when empty).
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

const VENDORED = new URL('../fixtures/stripe-openapi/', import.meta.url);
const SPEC_PATH = new URL('spec3.trimmed.json', VENDORED);
const FIXTURES_PATH = new URL('fixtures3.trimmed.json', VENDORED);

type Json = unknown;

function toJsonSchema(node: Json): Json {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (node === null || typeof node !== 'object') return node;
  const source = node as Record<string, Json>;
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(source)) {
    if (k.startsWith('x-') || k === 'nullable') continue;
    out[k] = k === 'enum' ? (v as Json[]).slice() : toJsonSchema(v);
  }
  if (source.nullable === true) {
    if (out.type !== undefined) {
      out.type = ([] as Json[]).concat(out.type, 'null');
      if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum.push(null);
    } else {
      return { anyOf: [out, { type: 'null' }] };
    }
  }
  return out;
}

/**
 * Fields that changed between the spec (2024-04-10) and the SDK's API version (2026-10-28.endive),
 * per tests/fixtures/stripe-openapi/notes.md: `schema name` → property names whose spec definition
 * no longer applies (removed, moved or re-typed since). Their values are not validated; presence is
 * not required.
 */
export const EXCUSED_FIELDS: Record<string, string[]> = {
  subscription: ['current_period_start', 'current_period_end', 'discount'],
  invoice: ['subscription', 'subscription_details', 'subscription_proration_date', 'payment_intent', 'charge', 'paid', 'paid_out_of_band', 'discount', 'tax', 'total_tax_amounts', 'quote', 'transfer_data', 'application_fee_amount'],
  line_item: ['proration', 'proration_details', 'type', 'price', 'subscription_item', 'invoice_item', 'tax_amounts', 'tax_rates', 'amount_excluding_tax', 'unit_amount_excluding_tax', 'plan', 'subscription'],
  payment_intent: ['invoice', 'cancellation_reason'],
  'checkout.session': ['shipping_details', 'ui_mode', 'shipping', 'payment_method_types'],
  charge: ['invoice'],
  dispute: ['status'],
  error: [],
};

let ajv: Ajv | undefined;
let components: Record<string, Record<string, unknown>> = {};
let fixtures: Record<string, Record<string, unknown>> = {};
const validators = new Map<string, ValidateFunction>();

function load(): Ajv {
  if (ajv) return ajv;
  const spec = JSON.parse(readFileSync(SPEC_PATH, 'utf8')) as { components: { schemas: Record<string, Record<string, unknown>> } };
  components = spec.components.schemas;
  fixtures = JSON.parse(readFileSync(FIXTURES_PATH, 'utf8')).resources;
  ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addFormat('unix-time', true);
  ajv.addFormat('decimal', true);
  ajv.addSchema({ $id: 'stripe', components: { schemas: toJsonSchema(spec.components.schemas) } });
  return ajv;
}

function notVendored(schemaName: string): Error {
  return new Error(`No schema named ${schemaName} in the vendored spec: add it to ROOTS in scripts/vendor-stripe-spec.ts and rerun \`npm run vendor:stripe-spec\``);
}

/** Stripe's sample object for a vendored schema (fixtures3.json's `resources`), if it has one. */
export function stripeFixture(schemaName: string): Record<string, unknown> | undefined {
  load();
  return Object.hasOwn(fixtures, schemaName) ? structuredClone(fixtures[schemaName]) : undefined;
}

/** The schema's errors for `value` (empty when valid), ignoring excused fields. */
export function stripeSchemaErrors(schemaName: string, value: unknown): string[] {
  const instance = load();
  let validate = validators.get(schemaName);
  if (!validate) {
    validate = instance.getSchema(`stripe#/components/schemas/${schemaName}`);
    if (!validate) throw notVendored(schemaName);
    validators.set(schemaName, validate);
  }
  const plain = fromSdk(value);
  if (validate(plain)) return [];
  return (validate.errors ?? [])
    .filter((e: ErrorObject) => !isExcused(schemaName, plain, e))
    .map((e: ErrorObject) => `${e.instancePath || '(root)'} ${e.message}${e.params ? ' ' + JSON.stringify(e.params) : ''}`);
}

/**
 * Whether an error concerns an excused field of the object it sits in, at any depth: an invoice
 * embeds line items, a subscription its items, each named by its own `object` field.
 */
function isExcused(rootSchema: string, root: unknown, error: ErrorObject): boolean {
  const segments = error.instancePath.split('/').slice(1);
  if (error.keyword === 'required') segments.push(String((error.params as { missingProperty?: string }).missingProperty));
  let node: unknown = root;
  let owner = rootSchema;
  for (const segment of segments) {
    if (EXCUSED_FIELDS[owner]?.includes(segment)) return true;
    if (node === null || typeof node !== 'object') return false;
    node = (node as Record<string, unknown>)[segment];
    const type = node !== null && typeof node === 'object' ? (node as { object?: unknown }).object : undefined;
    if (typeof type === 'string') owner = type;
  }
  return false;
}

/**
 * The object as it was on the wire. The SDK turns decimal strings (`unit_amount_decimal`) into its
 * own Decimal class when it parses a response; the API sends strings.
 */
function fromSdk(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromSdk);
  if (value === null || typeof value !== 'object') return value;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return String(value);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromSdk(v)]));
}

/**
 * Properties Stripe returns for this object type that `value` lacks. "Returns" means: present in
 * Stripe's own sample object (fixtures3.json), which holds what the API always sends; the spec's
 * property list also has includable fields that appear only on request. Without a sample, the
 * spec's `required` list.
 */
export function missingStripeFields(schemaName: string, value: Record<string, unknown>): string[] {
  load();
  const schema = components[schemaName];
  if (!schema) throw notVendored(schemaName);
  const excused = new Set(EXCUSED_FIELDS[schemaName] ?? []);
  const sample = fixtures[schemaName];
  const expected = sample ? Object.keys(sample) : ((schema.required as string[]) ?? []);
  return expected.filter((p) => !excused.has(p) && !(p in value));
}

/** Both checks, for the schema named by the object's own `object` field unless given. */
export function stripeShapeProblems(value: Record<string, unknown>, schemaName = String(value.object)): string[] {
  return [...stripeSchemaErrors(schemaName, value), ...missingStripeFields(schemaName, value).map((p) => `missing property ${p}`)];
}
