// What holds a V8 heap snapshot's memory, without DevTools: the self size of its objects summed by
// kind and constructor (or, for code, strings and arrays, by kind alone), largest first. Used by
// scripts/pglite-memory.ts (PGLITE_MEMORY_HEAP_SNAPSHOT); also runnable on any .heapsnapshot:
//
//   npx tsx scripts/heapSummary.ts /tmp/x.heapsnapshot [rows]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export function summarizeHeapSnapshot(path: string, rows = 25): string {
  const heap = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const fields = heap.snapshot.meta.node_fields;
  const types = heap.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((field) => fields.indexOf(field)) as [number, number, number];
  const bySlot = new Map<string, { bytes: number; count: number }>();
  let total = 0;
  for (let i = 0; i < heap.nodes.length; i += fields.length) {
    const type = types[heap.nodes[i + typeAt]!]!;
    const size = heap.nodes[i + sizeAt]!;
    total += size;
    // Objects and closures by constructor name; the rest (strings, code, arrays, hidden) by kind.
    const key = type === 'object' || type === 'closure' ? `${type} ${heap.strings[heap.nodes[i + nameAt]!]!.slice(0, 60)}` : type;
    const slot = bySlot.get(key) ?? { bytes: 0, count: 0 };
    slot.bytes += size;
    slot.count += 1;
    bySlot.set(key, slot);
  }
  const mib = (bytes: number) => (bytes / 1048576).toFixed(1);
  return [
    `heap snapshot: ${mib(total)} MiB in ${heap.nodes.length / fields.length} objects; largest by self size (MiB, count):`,
    ...[...bySlot.entries()]
      .sort((a, b) => b[1].bytes - a[1].bytes)
      .slice(0, rows)
      .map(([key, slot]) => `  ${mib(slot.bytes).padStart(7)}  ${String(slot.count).padStart(8)}  ${key}`),
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(summarizeHeapSnapshot(process.argv[2]!, Number(process.argv[3] ?? 25)));
