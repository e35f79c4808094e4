// Regenerates the trimmed copy of Stripe's OpenAPI description that the tests validate against
// (tests/fixtures/stripe-openapi/), from a full spec3.json and fixtures3.json of github.com/stripe/openapi:
//
//   npm run vendor:stripe-spec -- <path to spec3.json> <path to fixtures3.json> [--check]
//
// The full spec is 6 MB; the tests need only the component schemas of the objects the sandbox returns
// and the webhook fixtures carry. So the copy keeps the schemas reachable from ROOTS by `$ref`
// (transitively, so the set is closed and Ajv resolves every reference), minus what validation never
// reads (descriptions, titles, Stripe's x-* vendor keys), plus Stripe's sample object for each kept
// schema that has one, and the event types a webhook endpoint may subscribe to (the `enabled_events`
// enum of `POST /v1/webhook_endpoints`: `npm run stripe:events` is checked against it). Output is deterministic: keys sorted at every depth, two-space indent, a final
// newline, so regenerating from the same input rewrites the same bytes and a diff shows only real
// changes. `--check` writes nothing and fails when the committed copy differs from what the input gives.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const VENDORED_DIR = new URL('../tests/fixtures/stripe-openapi/', import.meta.url);
export const VENDORED_SPEC = new URL('spec3.trimmed.json', VENDORED_DIR);
export const VENDORED_FIXTURES = new URL('fixtures3.trimmed.json', VENDORED_DIR);

/**
 * The object types the tests validate (tests/helpers/stripeSchema.ts): every `object` the sandbox
 * returns or sends in an event, the error envelope, and the objects embedded whole in those. A test
 * asking for a schema outside their closure fails naming this list.
 */
export const ROOTS = [
  'api_errors',
  'charge',
  'checkout.session',
  'customer',
  'dispute',
  'error',
  'event',
  'invoice',
  'invoiceitem',
  'item',
  'line_item',
  'payment_intent',
  'payment_method',
  'plan',
  'price',
  'product',
  'refund',
  'subscription',
  'subscription_item',
  'webhook_endpoint',
] as const;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export interface FullSpec {
  openapi: string;
  info: JsonObject & { version: string };
  paths: Record<string, JsonObject>;
  components: { schemas: Record<string, JsonObject> };
}

export interface TrimmedSpec {
  openapi: string;
  info: JsonObject;
  components: { schemas: Record<string, JsonObject> };
  'x-vendored': {
    generatedBy: string;
    roots: string[];
    sha256: { 'fixtures3.json': string; 'spec3.json': string };
    trimmed: string;
    /** The `enabled_events` enum of `POST /v1/webhook_endpoints`, in Stripe's order ('*' included). */
    webhookEventTypes: string[];
  };
}

export interface Fixtures {
  resources: Record<string, JsonObject>;
}

/** Typed so a caller (the CLI, a test) can tell bad input from a bug. */
export class VendorError extends Error {
  override name = 'VendorError';
}

const SCHEMA_REF = '#/components/schemas/';
// Keywords whose value is a schema, or a list or map of schemas: the only places annotations are
// stripped and $refs followed. Anywhere else (enum values, a property literally named "description")
// the content is data and is copied as it is.
const SCHEMA_VALUED = new Set(['items', 'additionalProperties', 'not']);
const SCHEMA_LISTS = new Set(['anyOf', 'oneOf', 'allOf']);
const ANNOTATIONS = new Set(['description', 'title']);

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A schema without annotations and vendor keys; `refs` collects the schema names it references. */
function stripSchema(schema: Json, refs: Set<string>, where: string): Json {
  if (!isObject(schema)) return schema; // `additionalProperties: true` and the like
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key.startsWith('x-') || ANNOTATIONS.has(key)) continue;
    if (key === '$ref') {
      if (typeof value !== 'string' || !value.startsWith(SCHEMA_REF)) throw new VendorError(`${where}: $ref ${JSON.stringify(value)} is not a ${SCHEMA_REF}… reference`);
      refs.add(value.slice(SCHEMA_REF.length));
      out[key] = value;
    } else if (key === 'properties' && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, stripSchema(sub, refs, `${where}.${name}`)]));
    } else if (SCHEMA_LISTS.has(key) && Array.isArray(value)) {
      out[key] = value.map((sub, i) => stripSchema(sub, refs, `${where}.${key}[${i}]`));
    } else if (SCHEMA_VALUED.has(key)) {
      out[key] = stripSchema(value, refs, `${where}.${key}`);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/**
 * The schemas reachable from `roots`, stripped. Throws naming the first root or $ref target the
 * input lacks: a partial copy would only fail later, inside Ajv, far from the cause.
 */
export function trimSchemas(schemas: Record<string, JsonObject>, roots: readonly string[]): Record<string, JsonObject> {
  const kept: Record<string, JsonObject> = {};
  const queue: Array<{ name: string; from: string }> = roots.map((name) => ({ name, from: 'ROOTS' }));
  while (queue.length > 0) {
    const { name, from } = queue.shift()!;
    if (name in kept) continue;
    const schema = Object.hasOwn(schemas, name) ? schemas[name] : undefined;
    if (!isObject(schema)) throw new VendorError(`components.schemas has no ${JSON.stringify(name)} (referenced from ${from})`);
    const refs = new Set<string>();
    kept[name] = stripSchema(schema, refs, name) as JsonObject;
    for (const ref of refs) queue.push({ name: ref, from: name });
  }
  return kept;
}

const WEBHOOK_ENDPOINTS = '/v1/webhook_endpoints';

/**
 * The event types Stripe lets a webhook endpoint subscribe to: the one place in the spec that lists
 * every event name (an event's `type` is a bare string in its schema).
 */
export function webhookEventTypes(paths: unknown): string[] {
  const where = `paths["${WEBHOOK_ENDPOINTS}"].post's form body enabled_events.items.enum`;
  const endpoint = isObject(paths) ? paths[WEBHOOK_ENDPOINTS] : undefined;
  const post = isObject(endpoint) ? endpoint.post : undefined;
  const body = isObject(post) && isObject(post.requestBody) && isObject(post.requestBody.content) ? post.requestBody.content['application/x-www-form-urlencoded'] : undefined;
  const properties = isObject(body) && isObject(body.schema) ? body.schema.properties : undefined;
  const enabled = isObject(properties) ? properties.enabled_events : undefined;
  const values = isObject(enabled) && isObject(enabled.items) ? enabled.items.enum : undefined;
  if (!Array.isArray(values) || values.length === 0 || !values.every((v) => typeof v === 'string')) throw new VendorError(`spec3.json has no ${where}`);
  return values as string[];
}

/** Deterministic JSON: object keys sorted at every depth (arrays keep their order), two-space indent, final newline. */
export function stableJson(value: unknown): string {
  const sort = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(sort);
    if (!isObject(node)) return node;
    return Object.fromEntries(Object.keys(node).sort().map((key) => [key, sort(node[key])]));
  };
  return `${JSON.stringify(sort(value), null, 2)}\n`;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function parse(text: string, label: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new VendorError(`${label} is not JSON: ${(error as Error).message}`);
  }
}

/** The two trimmed files' contents, from the full files' text. */
export function vendor(specText: string, fixturesText: string, roots: readonly string[] = ROOTS): { spec: string; fixtures: string } {
  const spec = parse(specText, 'spec3.json') as Partial<FullSpec>;
  if (typeof spec.openapi !== 'string' || !isObject(spec.info) || typeof spec.info.version !== 'string' || !isObject(spec.components) || !isObject(spec.components.schemas)) {
    throw new VendorError('spec3.json has no openapi, info.version or components.schemas: is it an OpenAPI description?');
  }
  const fixtures = parse(fixturesText, 'fixtures3.json') as Partial<Fixtures>;
  if (!isObject(fixtures.resources)) throw new VendorError('fixtures3.json has no resources object');

  const schemas = trimSchemas(spec.components.schemas as Record<string, JsonObject>, roots);
  const eventTypes = webhookEventTypes(spec.paths);
  const trimmed: TrimmedSpec = {
    openapi: spec.openapi!,
    info: spec.info,
    components: { schemas },
    'x-vendored': {
      generatedBy: 'npm run vendor:stripe-spec -- <spec3.json> <fixtures3.json> (scripts/vendor-stripe-spec.ts)',
      roots: [...roots],
      sha256: { 'fixtures3.json': sha256(fixturesText), 'spec3.json': sha256(specText) },
      trimmed: 'components.schemas reachable from roots by $ref, without description, title and x-* keys; fixtures of those schemas only; of paths, only the webhook event types',
      webhookEventTypes: eventTypes,
    },
  };
  const resources = Object.fromEntries(Object.keys(schemas).filter((name) => Object.hasOwn(fixtures.resources!, name)).map((name) => [name, fixtures.resources![name]!]));
  return { spec: stableJson(trimmed), fixtures: stableJson({ resources }) };
}

function main(argv: string[]): number {
  const check = argv.includes('--check');
  const [specPath, fixturesPath, ...rest] = argv.filter((a) => a !== '--check');
  if (!specPath || !fixturesPath || rest.length > 0) {
    process.stderr.write('usage: npm run vendor:stripe-spec -- <path to spec3.json> <path to fixtures3.json> [--check]\n');
    return 2;
  }
  const out = vendor(readFileSync(specPath, 'utf8'), readFileSync(fixturesPath, 'utf8'));
  const files: Array<[URL, string]> = [
    [VENDORED_SPEC, out.spec],
    [VENDORED_FIXTURES, out.fixtures],
  ];
  if (check) {
    const stale = files.filter(([url, text]) => {
      try {
        return readFileSync(url, 'utf8') !== text;
      } catch {
        return true;
      }
    });
    for (const [url] of stale) process.stderr.write(`${fileURLToPath(url)} differs from what ${basename(specPath)} gives: rerun without --check and commit the result.\n`);
    if (stale.length === 0) process.stdout.write('The vendored Stripe spec is up to date.\n');
    return stale.length === 0 ? 0 : 1;
  }
  mkdirSync(VENDORED_DIR, { recursive: true });
  for (const [url, text] of files) {
    writeFileSync(url, text);
    process.stdout.write(`wrote ${fileURLToPath(url)} (${Buffer.byteLength(text)} bytes)\n`);
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    process.exit(main(process.argv.slice(2)));
  } catch (error) {
    process.stderr.write(`vendor-stripe-spec: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
