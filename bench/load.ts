// Load generation for the benchmarks: autocannon runs in its own process (its CLI), so the load
// generator does not share the server's event loop. Figures are medians over several rounds, since
// the machines are shared and noisy.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const AUTOCANNON = new URL('../node_modules/.bin/autocannon', import.meta.url).pathname;

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** Responses whose body was not `expectBody`. */
  mismatches: number;
  /** Requests written, including those still in flight when the run ended (the server may finish them). */
  sent: number;
  /** 2xx responses. */
  ok: number;
}

export interface LoadOptions {
  url: string;
  body?: string;
  headers?: Record<string, string>;
  seconds: number;
  connections: number;
  /**
   * Every `[<id>]` in the body and the header values becomes an id unique to the request (autocannon's
   * -I). Autocannon's argument parser takes an argument ending in `]` for a sub-argument list, so the
   * placeholder must not end a header value or the body.
   */
  uniqueIds?: boolean;
  /** Counts every response whose body differs from this one as a mismatch. */
  expectBody?: string;
}

export async function load(options: LoadOptions): Promise<LoadResult> {
  const args = ['--json', '-c', String(options.connections), '-d', String(options.seconds)];
  if (options.body) args.push('-m', 'POST', '-b', options.body);
  if (options.uniqueIds) args.push('-I');
  if (options.expectBody) args.push('-E', options.expectBody);
  for (const [k, v] of Object.entries(options.headers ?? {})) args.push('-H', `${k}=${v}`);
  args.push(options.url);
  const { stdout } = await run(AUTOCANNON, args, { maxBuffer: 16 * 1024 * 1024 });
  const result = JSON.parse(stdout);
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    mismatches: result.mismatches,
    sent: result.requests.sent,
    ok: result['2xx'],
  };
}

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export function printTable(title: string, rows: Array<[string, number, number | undefined, string]>, columns: [string, string] = ['ours', 'peer']) {
  const [left, right] = columns;
  console.log(`\n${title}`);
  console.log(`${'metric'.padEnd(22)}${left.padStart(14)}${right.padStart(14)}${`${left}/${right}`.padStart(14)}`);
  for (const [name, ours, peer, unit] of rows) {
    const ratio = peer ? (ours / peer).toFixed(2) : '-';
    const fmt = (v: number | undefined) => (v === undefined ? '-' : `${Math.round(v * 10) / 10}${unit}`);
    console.log(`${name.padEnd(22)}${fmt(ours).padStart(14)}${fmt(peer).padStart(14)}${ratio.padStart(14)}`);
  }
}
