// Load generation for the benchmarks: autocannon runs in its own process (its CLI), so the load
// generator does not share the server's event loop. Figures are medians over several rounds, since
// the machines are shared and noisy.
import { execFile } from 'node:child_process';
import { connect, type Socket } from 'node:net';
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

/** What a closed-loop run measured: completions per second and the latency of each call, in ms. */
export interface LoopResult {
  rps: number;
  p50: number;
  p99: number;
  /** Calls that resolved true (for HTTP: a 2xx answer). */
  ok: number;
  /** Calls that resolved false (for HTTP: any other status). */
  failed: number;
  /** Calls that threw (for HTTP: a connection error). */
  errors: number;
  elapsedMs: number;
}

export interface LoopOptions<T> {
  /** Calls in flight at once: each worker sends its next call when its last one is answered. */
  concurrency: number;
  /** Stop starting calls after this long (calls in flight finish). */
  seconds?: number;
  /** The item for the call with this index, made before the call's clock starts; undefined: no more calls. */
  next: (index: number) => T | undefined;
  /** The measured call; resolves true when it succeeded. */
  call: (worker: number, item: T) => Promise<boolean>;
}

/**
 * A closed loop: `concurrency` workers, each making one call at a time, for `seconds` or until `next`
 * runs out. Used where autocannon cannot serve: every request differs in a way autocannon's -I cannot
 * make (a signature over the body), or the peer is a library call rather than an HTTP server.
 */
export async function closedLoop<T>(options: LoopOptions<T>): Promise<LoopResult> {
  const latencies: number[] = [];
  let index = 0;
  let failed = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = options.seconds === undefined ? Infinity : started + options.seconds * 1000;
  const worker = async (w: number) => {
    while (performance.now() < deadline) {
      const item = options.next(index++);
      if (item === undefined) return;
      const t0 = performance.now();
      try {
        if (await options.call(w, item)) latencies.push(performance.now() - t0);
        else failed += 1;
      } catch {
        errors += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, w) => worker(w)));
  const elapsedMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => (latencies.length === 0 ? NaN : latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!);
  return { rps: (latencies.length / elapsedMs) * 1000, p50: at(0.5), p99: at(0.99), ok: latencies.length, failed, errors, elapsedMs };
}

/**
 * Keep-alive HTTP/1.1 connections for a closed loop, one per worker, speaking just enough HTTP for a
 * POST with a JSON answer (Content-Length or chunked). Node's own http client (keep-alive Agent) costs
 * 3 to 4 times the CPU per request (measured at 16 connections with 2.5 KB bodies: 140-300 µs against
 * 40 µs), and on a 2-core machine the load generator's CPU is taken from the server.
 */
export class KeepAliveConnections {
  private readonly connections: RawConnection[];

  constructor(url: string, count: number) {
    const { hostname, port } = new URL(url);
    this.connections = Array.from({ length: count }, () => new RawConnection(hostname, Number(port)));
  }

  /** POSTs on the worker's connection; resolves with the status. Reconnects after an error. */
  async post(worker: number, path: string, headers: Record<string, string>, body: string): Promise<number> {
    return (await this.request(worker, path, headers, body)).status;
  }

  /** POSTs on the worker's connection; resolves with the status and the answer's body. */
  request(worker: number, path: string, headers: Record<string, string>, body: string): Promise<RawAnswer> {
    const length = Buffer.byteLength(body);
    let head = `POST ${path} HTTP/1.1\r\nHost: ${this.connections[worker]!.host}\r\nContent-Length: ${length}\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    return this.connections[worker]!.send(`${head}\r\n${body}`);
  }

  close() {
    for (const connection of this.connections) connection.close();
  }
}

export interface RawAnswer {
  status: number;
  /** The body as sent (a chunked one with its chunk framing removed). */
  body: Buffer;
}

class RawConnection {
  private socket: Socket | null = null;
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (answer: RawAnswer) => void; reject: (error: Error) => void } | null = null;

  constructor(
    private readonly hostname: string,
    private readonly port: number,
  ) {}

  get host() {
    return `${this.hostname}:${this.port}`;
  }

  send(request: string): Promise<RawAnswer> {
    if (this.waiting) return Promise.reject(new Error('one request at a time per connection'));
    const socket = (this.socket ??= this.connect());
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      socket.write(request);
    });
  }

  close() {
    this.socket?.destroy();
    this.socket = null;
  }

  private connect(): Socket {
    const socket = connect({ host: this.hostname, port: this.port, noDelay: true });
    this.buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      this.parse();
    });
    const fail = (error: Error) => {
      if (this.socket === socket) this.socket = null;
      const waiting = this.waiting;
      this.waiting = null;
      waiting?.reject(error);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
    return socket;
  }

  /** Completes the request in flight once its whole answer is in the buffer. */
  private parse() {
    const end = this.buffered.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.buffered.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    let total: number;
    let chunked = false;
    if (length) {
      total = end + 4 + Number(length[1]);
    } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
      const last = this.buffered.indexOf('\r\n0\r\n\r\n', end);
      if (last < 0) return;
      total = last + 7;
      chunked = true;
    } else {
      total = end + 4;
    }
    if (this.buffered.length < total) return;
    const raw = this.buffered.subarray(end + 4, total);
    this.buffered = this.buffered.subarray(total);
    const waiting = this.waiting;
    this.waiting = null;
    if (/\r\nconnection: *close/i.test(head)) this.close();
    waiting?.resolve({ status, body: chunked ? dechunk(raw) : raw });
  }
}

/** The data of a chunked body (size line, data, CRLF, ..., then the zero-size chunk). */
function dechunk(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', at);
    const size = parseInt(raw.toString('latin1', at, lineEnd), 16);
    if (!(size > 0)) return Buffer.concat(parts);
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}
