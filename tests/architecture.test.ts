// The layers the folders show (DESIGN.md "Layout"), checked mechanically: arrows point down only. An API
// adapter (server/api/) calls a domain; a domain, or the shared modules under it, never imports the API
// layer; config.ts, which every part reads, imports no domain. Types that the schema and a domain both
// name are held equal here at type-check time, so the domain keeps its own and the resolvers map.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Role } from '../server/auth/viewer';
import type { PaymentErrorCode } from '../server/stripe/payments';
import type * as Schema from '../server/api/graphql/generated/resolvers-types';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SERVER = join(ROOT, 'server');

/** The domains, and the modules they share below them: none may import server/api/. */
export const DOMAIN_FOLDERS = ['auth', 'catalog', 'checkout', 'make', 'ops', 'orders', 'paymentLogs', 'retention', 'webhooks'] as const;
const SHARED_FOLDERS = ['idempotency', 'stripe', 'platform'] as const;

function sourceFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) ? [path] : [];
  });
}

// Static imports and exports, `import type`, and dynamic import(): every way a module can reach another.
const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm;

/** The repository-relative paths (server/...) a file imports, relative imports resolved. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)]
    .map((m) => m[1] ?? m[2] ?? m[3]!)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => relative(ROOT, normalize(join(dirname(file), spec))).split('\\').join('/'));
}

const inFolder = (path: string, folder: string) => path === `server/${folder}` || path.startsWith(`server/${folder}/`);

describe('no upward import', () => {
  it('finds the files it checks (the rule is not vacuous)', () => {
    for (const folder of DOMAIN_FOLDERS) expect(sourceFiles(join(SERVER, folder)).length, folder).toBeGreaterThan(0);
  });

  for (const folder of [...DOMAIN_FOLDERS, ...SHARED_FOLDERS]) {
    it(`server/${folder}/ imports nothing from the API layer (server/api/)`, () => {
      const upward = sourceFiles(join(SERVER, folder)).flatMap((file) =>
        importsOf(file)
          .filter((target) => inFolder(target, 'api'))
          .map((target) => `${relative(ROOT, file)} -> ${target}`),
      );
      expect(upward).toEqual([]);
    });
  }

  it('server/config.ts imports no domain and nothing from the API layer', () => {
    const imports = importsOf(join(SERVER, 'config.ts'));
    expect(imports.filter((target) => [...DOMAIN_FOLDERS, 'api'].some((folder) => inFolder(target, folder)))).toEqual([]);
  });
});

describe('one type for one thing, the domain’s and the schema’s', () => {
  it('the domain types equal the schema’s enums they stand for', () => {
    expectTypeOf<Role>().toEqualTypeOf<Schema.Role>();
    expectTypeOf<PaymentErrorCode>().toEqualTypeOf<Schema.PaymentErrorCode>();
  });
});

describe('the Stripe sandbox stands apart (stripe-sandbox/)', () => {
  const SANDBOX = join(ROOT, 'stripe-sandbox');

  it('finds the files it checks (the rule is not vacuous)', () => {
    expect(sourceFiles(SANDBOX).length).toBeGreaterThan(10);
  });

  // A product of its own: any Stripe client can use it, so it must not need the server it serves.
  it('imports nothing from server/, nor anything else outside its own folder', () => {
    const outside = sourceFiles(SANDBOX).flatMap((file) =>
      importsOf(file)
        .filter((target) => !target.startsWith('stripe-sandbox/'))
        .map((target) => `${relative(ROOT, file)} -> ${target}`),
    );
    expect(outside).toEqual([]);
  });

  // Sandbox mode's extras are given what they need (server/sandboxMode/mount.ts), the GraphQL context included.
  it('server/sandboxMode/ imports nothing from the API layer (server/api/)', () => {
    const upward = sourceFiles(join(SERVER, 'sandboxMode')).flatMap((file) =>
      importsOf(file)
        .filter((target) => inFolder(target, 'api'))
        .map((target) => `${relative(ROOT, file)} -> ${target}`),
    );
    expect(upward).toEqual([]);
  });
});

describe('the server and the console stand apart (console/)', () => {
  /**
   * What the console may import from server/: rules both sides must agree on, written once (how staff
   * type an amount is how the server's forms read it). Each is free of imports, so nothing of Node or
   * of the server reaches the browser bundle.
   */
  const SERVER_MODULES_FOR_THE_CONSOLE = ['server/catalog/money.ts'];
  const CONSOLE = join(ROOT, 'console', 'src');

  it('finds the files it checks (the rule is not vacuous)', () => {
    expect(sourceFiles(SERVER).length).toBeGreaterThan(100);
    expect(sourceFiles(CONSOLE).length).toBeGreaterThan(20);
  });

  // The console is a client of the API; the server must run (and build) without any of it.
  it('nothing under server/ imports from console/', () => {
    const intoConsole = sourceFiles(SERVER).flatMap((file) =>
      importsOf(file)
        .filter((target) => target === 'console' || target.startsWith('console/'))
        .map((target) => `${relative(ROOT, file)} -> ${target}`),
    );
    expect(intoConsole).toEqual([]);
  });

  it('the console imports from server/ only the modules written for both, which import nothing', () => {
    const intoServer = sourceFiles(CONSOLE).flatMap((file) =>
      importsOf(file)
        .filter((target) => target.startsWith('server/') && !SERVER_MODULES_FOR_THE_CONSOLE.includes(`${target.replace(/\.ts$/, '')}.ts`))
        .map((target) => `${relative(ROOT, file)} -> ${target}`),
    );
    expect(intoServer).toEqual([]);
    for (const module of SERVER_MODULES_FOR_THE_CONSOLE) {
      expect([...readFileSync(join(ROOT, module), 'utf8').matchAll(IMPORT)].map((m) => m[0]), module).toEqual([]);
    }
  });
});

describe('the edges do not lean on each other (server/cli/, server/api/graphql/, server/api/http/)', () => {
  // Each edge calls the domains; what two edges share (an argument's parsing, a rule) lives in the
  // domain, so that the CLI never needs the GraphQL layer to run, nor the other way round.
  const EDGES = ['cli', 'api/graphql', 'api/http'] as const;
  /**
   * The one crossing allowed: the HTTP layer hosts the GraphQL adapter (its /graphql route builds the
   * request's context, loaders included, and hands it to Apollo).
   */
  const HOSTS: Record<string, string[]> = { 'server/api/http/graphqlRoute.ts': ['server/api/graphql/context', 'server/api/graphql/loaders'] };

  it('finds the files it checks (the rule is not vacuous)', () => {
    for (const edge of EDGES) expect(sourceFiles(join(SERVER, edge)).length, edge).toBeGreaterThan(0);
  });

  for (const edge of EDGES) {
    it(`server/${edge}/ imports nothing from another edge`, () => {
      const sideways = sourceFiles(join(SERVER, edge)).flatMap((file) => {
        const from = relative(ROOT, file).split('\\').join('/');
        return importsOf(file)
          .filter((target) => EDGES.some((other) => other !== edge && inFolder(target, other)))
          .filter((target) => !(HOSTS[from] ?? []).includes(target))
          .map((target) => `${from} -> ${target}`);
      });
      expect(sideways).toEqual([]);
    });
  }
});
