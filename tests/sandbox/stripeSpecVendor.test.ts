// The trimmed Stripe spec the schema tests read (tests/fixtures/stripe-openapi/) and the script that
// regenerates it from a full spec3.json (scripts/vendor-stripe-spec.ts). The full spec is not in the
// repository, so regeneration is proved on small specs built here, and the committed copy is checked
// for the properties the script guarantees: closed under $ref, nothing unreachable, stable bytes.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ROOTS, stableJson, trimSchemas, vendor, VENDORED_FIXTURES, VENDORED_SPEC, VendorError } from '../../scripts/vendor-stripe-spec';

type Schemas = Record<string, Record<string, unknown>>;

const specText = readFileSync(VENDORED_SPEC, 'utf8');
const fixturesText = readFileSync(VENDORED_FIXTURES, 'utf8');
const spec = JSON.parse(specText) as { openapi: string; info: { version: string }; components: { schemas: Schemas }; 'x-vendored': { roots: string[]; sha256: Record<string, string>; webhookEventTypes: string[] } };
const fixtures = JSON.parse(fixturesText) as { resources: Record<string, unknown> };

/** Every `$ref` anywhere in a value. */
function refsIn(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) refsIn(v, out);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref') out.push(String(v));
      else refsIn(v, out);
    }
  }
  return out;
}

/** Where Stripe's spec lists the event types (the form body of `POST /v1/webhook_endpoints`). */
function webhookEndpointsPath(eventTypes: string[]) {
  return { post: { requestBody: { content: { 'application/x-www-form-urlencoded': { schema: { properties: { enabled_events: { items: { enum: eventTypes, type: 'string' }, type: 'array' } } } } } } } };
}

/** A tiny full spec in Stripe's shape: what the script reads. */
function fullSpec(schemas: Schemas, paths: Record<string, unknown> = { '/v1/x': {}, '/v1/webhook_endpoints': webhookEndpointsPath(['*', 'widget.created', 'bolt.lost']) }) {
  return { openapi: '3.0.0', info: { title: 'Stripe API', version: '2099-01-01', 'x-stripeSpecFilename': 'spec3' }, paths, components: { schemas } };
}

const SCHEMAS: Schemas = {
  widget: {
    description: 'A widget.',
    title: 'Widget',
    type: 'object',
    'x-resourceId': 'widget',
    'x-expandableFields': ['part'],
    required: ['id', 'part'],
    properties: {
      id: { type: 'string', maxLength: 5000, description: 'Unique identifier.' },
      // Properties literally named like annotations are data, not annotations.
      description: { type: 'string', nullable: true, description: 'What the seller wrote.' },
      title: { type: 'string', description: 'Shown to the buyer.' },
      part: { anyOf: [{ maxLength: 5000, type: 'string' }, { $ref: '#/components/schemas/part' }], 'x-expansionResources': { oneOf: [{ $ref: '#/components/schemas/unrelated' }] } },
      tags: { type: 'array', items: { $ref: '#/components/schemas/tag' } },
      metadata: { type: 'object', additionalProperties: { type: 'string', description: 'A value.' } },
    },
  },
  part: { type: 'object', properties: { bolt: { $ref: '#/components/schemas/bolt' } } },
  bolt: { type: 'object', properties: { size: { type: 'integer', enum: [3, 1, 2] } } },
  tag: { type: 'string', enum: ['b', 'a'] },
  unrelated: { type: 'object', description: 'Reachable only through an x- key.' },
  orphan: { type: 'object' },
};
const FIXTURES = { resources: { widget: { id: 'wd_1', part: 'pt_1', description: null, title: 'W', tags: [], metadata: {} }, bolt: { size: 3 }, orphan: {} } };

describe('the vendored Stripe spec', () => {
  it('records the spec version, the roots and the sha256 of the full files it was trimmed from', () => {
    expect(spec.openapi).toBe('3.0.0');
    expect(spec.info.version).toBe('2024-04-10');
    expect(spec['x-vendored'].roots).toEqual([...ROOTS]);
    expect(spec['x-vendored'].sha256).toEqual({
      'fixtures3.json': '8851ee32c8b72e923c2a44fcbf25409e90195367d522ffb4ddc8596066be80a5',
      'spec3.json': '397af5b79e00011df5ef88104bd71133002c2c691b37586e53de3e928bf36b8a',
    });
  });

  it('is closed and minimal: every $ref names a schema it holds, and it holds exactly what the roots reach', () => {
    const schemas = spec.components.schemas;
    for (const ref of refsIn(schemas)) expect(ref.startsWith('#/components/schemas/') && ref.slice('#/components/schemas/'.length) in schemas, ref).toBe(true);
    for (const root of ROOTS) expect(schemas, root).toHaveProperty([root]);
    // Trimming the copy again changes nothing: no unreachable schema, no annotation or x- key left.
    expect(trimSchemas(schemas as never, ROOTS)).toEqual(schemas);
  });

  it("lists the webhook event types of the spec's POST /v1/webhook_endpoints, the wildcard among them", () => {
    expect(spec['x-vendored'].webhookEventTypes).toContain('*');
    expect(spec['x-vendored'].webhookEventTypes).toContain('payment_intent.succeeded');
    expect(spec['x-vendored'].webhookEventTypes.length).toBeGreaterThan(200);
  });

  it('holds Stripe fixtures only for schemas it holds, among them every root the tests check against a sample', () => {
    for (const name of Object.keys(fixtures.resources)) expect(spec.components.schemas, name).toHaveProperty([name]);
    for (const name of ['customer', 'payment_intent', 'charge', 'refund', 'checkout.session', 'product', 'price', 'subscription', 'invoice', 'dispute', 'webhook_endpoint', 'event']) {
      expect(fixtures.resources, name).toHaveProperty([name]);
    }
  });

  it('is written in stable form: keys sorted at every depth, two-space indent, a final newline', () => {
    expect(specText).toBe(stableJson(spec));
    expect(fixturesText).toBe(stableJson(fixtures));
  });

  it('stays well under 1 MB', () => {
    expect(Buffer.byteLength(specText) + Buffer.byteLength(fixturesText)).toBeLessThan(1_000_000);
  });
});

describe('scripts/vendor-stripe-spec.ts', () => {
  const run = (schemas: Schemas = SCHEMAS, fixtureFile: unknown = FIXTURES, roots = ['widget']) => vendor(JSON.stringify(fullSpec(schemas)), JSON.stringify(fixtureFile), roots);

  it('keeps the schemas the roots reach through $refs at any depth, and no other', () => {
    const out = JSON.parse(run().spec);
    expect(Object.keys(out.components.schemas)).toEqual(['bolt', 'part', 'tag', 'widget']);
    expect(out).not.toHaveProperty('paths');
  });

  it('drops descriptions, titles and x- keys from schemas, but keeps properties so named and all validation keywords', () => {
    const widget = JSON.parse(run().spec).components.schemas.widget;
    expect(widget).toEqual({
      type: 'object',
      required: ['id', 'part'],
      properties: {
        id: { type: 'string', maxLength: 5000 },
        description: { type: 'string', nullable: true },
        title: { type: 'string' },
        part: { anyOf: [{ maxLength: 5000, type: 'string' }, { $ref: '#/components/schemas/part' }] },
        tags: { type: 'array', items: { $ref: '#/components/schemas/tag' } },
        metadata: { type: 'object', additionalProperties: { type: 'string' } },
      },
    });
    // Enum order is data: kept as Stripe wrote it.
    expect(JSON.parse(run().spec).components.schemas.bolt.properties.size.enum).toEqual([3, 1, 2]);
  });

  it('keeps the fixtures of kept schemas only, as Stripe wrote them', () => {
    expect(JSON.parse(run().fixtures)).toEqual({ resources: { bolt: { size: 3 }, widget: FIXTURES.resources.widget } });
  });

  it('records the version, the roots and the sha256 of each input', () => {
    const specInput = JSON.stringify(fullSpec(SCHEMAS));
    const out = JSON.parse(vendor(specInput, JSON.stringify(FIXTURES), ['widget']).spec);
    expect(out.info).toEqual({ title: 'Stripe API', version: '2099-01-01', 'x-stripeSpecFilename': 'spec3' });
    expect(out['x-vendored'].roots).toEqual(['widget']);
    expect(out['x-vendored'].sha256['spec3.json']).toMatch(/^[0-9a-f]{64}$/);
    expect(out['x-vendored'].sha256['spec3.json']).not.toBe(out['x-vendored'].sha256['fixtures3.json']);
  });

  it('records the webhook event types in the order Stripe lists them, and no other part of paths', () => {
    const out = JSON.parse(run().spec);
    expect(out['x-vendored'].webhookEventTypes).toEqual(['*', 'widget.created', 'bolt.lost']);
    expect(out).not.toHaveProperty('paths');
  });

  it('refuses a spec without the webhook event types, naming where it looked', () => {
    const without = (paths: Record<string, unknown>) => () => vendor(JSON.stringify(fullSpec(SCHEMAS, paths)), JSON.stringify(FIXTURES), ['widget']);
    expect(without({ '/v1/x': {} })).toThrow(new VendorError(`spec3.json has no paths["/v1/webhook_endpoints"].post's form body enabled_events.items.enum`));
    expect(without({ '/v1/webhook_endpoints': webhookEndpointsPath([]) })).toThrow(VendorError);
    expect(without({ '/v1/webhook_endpoints': webhookEndpointsPath([1, 2] as never) })).toThrow(VendorError);
  });

  it('writes the same bytes whatever order the input lists keys in', () => {
    const reversed = (value: unknown): unknown =>
      Array.isArray(value) ? value.map(reversed) : value !== null && typeof value === 'object' ? Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reversed(v)])) : value;
    const a = vendor(JSON.stringify(fullSpec(SCHEMAS)), JSON.stringify(FIXTURES), ['widget']);
    const b = vendor(JSON.stringify(reversed(fullSpec(SCHEMAS)), null, 4), JSON.stringify(reversed(FIXTURES)), ['widget']);
    expect(b.spec.replace(/"[0-9a-f]{64}"/g, '"sha"')).toBe(a.spec.replace(/"[0-9a-f]{64}"/g, '"sha"'));
    expect(b.fixtures).toBe(a.fixtures);
    expect(a.spec.endsWith('}\n')).toBe(true);
  });

  it('refuses a root or a $ref the spec lacks, naming it, instead of writing a partial copy', () => {
    expect(() => run(SCHEMAS, FIXTURES, ['gadget'])).toThrow(new VendorError('components.schemas has no "gadget" (referenced from ROOTS)'));
    const dangling = { ...SCHEMAS, part: { type: 'object', properties: { nut: { $ref: '#/components/schemas/nut' } } } };
    expect(() => run(dangling)).toThrow(new VendorError('components.schemas has no "nut" (referenced from part)'));
    const remote = { ...SCHEMAS, part: { $ref: 'https://example.com/part.json' } };
    expect(() => run(remote)).toThrow(VendorError);
  });

  it('refuses input that is not an OpenAPI description or a fixtures file', () => {
    expect(() => vendor('{', JSON.stringify(FIXTURES), ['widget'])).toThrow(/spec3\.json is not JSON/);
    expect(() => vendor(JSON.stringify({ resources: {} }), JSON.stringify(FIXTURES), ['widget'])).toThrow(/no openapi, info\.version or components\.schemas/);
    expect(() => vendor(JSON.stringify(fullSpec(SCHEMAS)), JSON.stringify({}), ['widget'])).toThrow(/fixtures3\.json has no resources/);
  });
});
