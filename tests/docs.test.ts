// The README and docs/ are what a newcomer trusts first, and the code moves under them: a renamed
// folder or script leaves a page pointing at nothing without any other test noticing. This holds them to
// the repository as it is: every link and every file path they name exists, every `npm run` is a script,
// every environment variable is named, and nothing points outside the repository.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
const read = (page: string) => readFileSync(join(ROOT, page), 'utf8');

const SCRIPTS = Object.keys((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts);
const ENV_VARIABLES = [...read('.env.example').matchAll(/^#? ?([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]!);

// A path written in backticks from a top-level folder of ours, e.g. `server/make/outbox.ts`; placeholders
// (`<version>`), globs and elided names (`…000500_x.sql`) are descriptions, not paths.
const REPO_PATH = /`((?:server|console|tests|supabase|stripe-sandbox|scripts|bench|docs|\.ci)\/[^`\s]*)`/g;
const MARKDOWN_LINK = /\]\(([^)\s#]+)(?:#[^)\s]*)?\)/g;

function missingPaths(page: string, text = read(page)): string[] {
  const missing: string[] = [];
  for (const [, target] of text.matchAll(MARKDOWN_LINK)) {
    if (/^[a-z]+:/.test(target!)) continue;
    const path = normalize(join(dirname(join(ROOT, page)), target!));
    if (relative(ROOT, path).startsWith('..')) missing.push(`${target} (outside the repository)`);
    else if (!existsSync(path)) missing.push(target!);
  }
  for (const [, path] of text.matchAll(REPO_PATH)) {
    if (/[<*…{]/.test(path!)) continue;
    if (!existsSync(join(ROOT, path!))) missing.push(path!);
  }
  return missing;
}

describe('README and docs', () => {
  it('keeps the README under 250 lines, with the quickstart commands CI and newcomers rely on', () => {
    const readme = read('README.md');
    expect(readme.split('\n').length).toBeLessThan(250);
    expect(readme).toContain('npm install');
    expect(readme).toContain('npm start');
    expect(readme).toContain('npm test');
  });

  it.each(PAGES)('%s names only links and paths that exist in the repository', (page) => {
    expect(missingPaths(page)).toEqual([]);
  });

  it.each(PAGES)('%s runs only npm scripts that package.json defines', (page) => {
    const named = [...read(page).matchAll(/npm run ([a-z][a-z0-9:-]*)/g)].map((match) => match[1]!);
    expect(named.filter((script) => !SCRIPTS.includes(script))).toEqual([]);
  });

  it('names every environment variable of .env.example in the README and in docs/configuration.md', () => {
    const readme = read('README.md');
    const configuration = read('docs/configuration.md');
    expect(ENV_VARIABLES.length).toBeGreaterThan(40);
    expect(ENV_VARIABLES.filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
    expect(ENV_VARIABLES.filter((name) => !configuration.includes(`\`${name}\``))).toEqual([]);
  });

  it('reports a missing path, a missing link and a link out of the repository, so a pass means something', () => {
    const page = 'see `server/nowhere/gone.ts`, [a](missing.md), [b](../../outside.md), [c](design.md#layout)';
    expect(missingPaths('docs/example.md', page)).toEqual(['missing.md', '../../outside.md (outside the repository)', 'server/nowhere/gone.ts']);
  });
});
