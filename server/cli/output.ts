// How `payments-ops` prints for a person: aligned tables, money with its currency, times both relative
// and absolute, colour only on a terminal (never with NO_COLOR, https://no-color.org), a progress bar
// redrawn in place. `--json` bypasses all of it (printJson). Pure functions, unit-tested in process.
import { formatMoney } from '../catalog/money';

export interface Style {
  bold: (text: string) => string;
  dim: (text: string) => string;
  red: (text: string) => string;
  green: (text: string) => string;
  yellow: (text: string) => string;
}

const sgr = (open: number, close: number) => (text: string) => `\x1b[${open}m${text}\x1b[${close}m`;
const plain = (text: string) => text;

/** Colour on a TTY, unless NO_COLOR is set to anything but the empty string. */
export function wantsColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream.isTTY) && !(env.NO_COLOR !== undefined && env.NO_COLOR !== '');
}

export function styleFor(color: boolean): Style {
  if (!color) return { bold: plain, dim: plain, red: plain, green: plain, yellow: plain };
  return { bold: sgr(1, 22), dim: sgr(2, 22), red: sgr(31, 39), green: sgr(32, 39), yellow: sgr(33, 39) };
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
/** The width a cell takes on screen: escape codes take none. */
const visible = (text: string) => Array.from(text.replace(ANSI, '')).length;

/** Rows under a header, each column as wide as its widest cell, two spaces apart; no trailing blanks. */
export function table(header: string[], rows: string[][], style: Style = styleFor(false)): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((row) => visible(row[i] ?? ''))));
  const line = (row: string[]) => row.map((cell, i) => cell + ' '.repeat(widths[i]! - visible(cell))).join('  ').trimEnd();
  return [style.bold(line(header)), ...rows.map(line)];
}

/** `label  value` lines, the labels aligned. */
export function fields(pairs: Array<[string, string]>): string[] {
  const width = Math.max(...pairs.map(([label]) => label.length));
  return pairs.map(([label, value]) => `${label.padEnd(width)}  ${value}`);
}

/** An amount in the minor unit with its currency: $29.70, ¥500. */
export const money = (amount: number | string | null | undefined, currency: string | null | undefined): string =>
  amount === null || amount === undefined || !currency ? '-' : formatMoney({ amount: Number(amount), currency });

/** "3 min ago", "in 2 h", "just now": the largest unit that fits. */
export function relativeTime(at: Date, now: Date = new Date()): string {
  const seconds = Math.round((at.getTime() - now.getTime()) / 1000);
  const magnitude = Math.abs(seconds);
  if (magnitude < 5) return 'just now';
  const units: Array<[number, string]> = [
    [86_400, 'd'],
    [3_600, 'h'],
    [60, 'min'],
    [1, 's'],
  ];
  const [size, unit] = units.find(([size]) => magnitude >= size)!;
  const count = Math.floor(magnitude / size);
  return seconds < 0 ? `${count} ${unit} ago` : `in ${count} ${unit}`;
}

/** "2026-12-07 14:30:05Z (3 min ago)"; "-" for no time. */
export function when(value: Date | string | null | undefined, now: Date = new Date()): string {
  if (value === null || value === undefined) return '-';
  const at = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(at.getTime())) return String(value);
  return `${at.toISOString().slice(0, 19).replace('T', ' ')}Z (${relativeTime(at, now)})`;
}

/** Whole seconds as "1 h 5 min", "42 s". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '-';
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3_600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3_600)} h ${Math.floor((seconds % 3_600) / 60)} min`;
  return `${Math.floor(seconds / 86_400)} d ${Math.floor((seconds % 86_400) / 3_600)} h`;
}

/**
 * One line of a progress bar for a pass whose total is not known in advance: a bar that moves with the
 * items checked, then the counters. Redrawn in place with \r on a terminal.
 */
export function progressLine(counters: { checked: number; synced: number; orphansFound: number }, tick: number, width = 20): string {
  const position = tick % (width * 2 - 2);
  const at = position < width ? position : width * 2 - 2 - position;
  const bar = Array.from({ length: width }, (_, i) => (i === at ? '=' : ' ')).join('');
  return `[${bar}] checked ${counters.checked}  synced ${counters.synced}  orphans found ${counters.orphansFound}`;
}

/** JSON for scripts: dates as ISO strings, two-space indented, one document per command. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
}
