// `npm run bench`: every benchmark, each printing its figures and its peer's from the same run.
// BENCH_ROUNDS and BENCH_SECONDS shorten or lengthen the runs; BENCH_ONLY=webhooks (or a
// comma-separated list of graphql, checkout, webhooks, console, outbox, reconcile, timeline) runs only those.
import { benchCheckout } from './checkout.bench';
import { benchConsole } from './console.bench';
import { benchGraphql } from './graphql.bench';
import { benchOutbox } from './outbox.bench';
import { benchReconcile } from './reconcile.bench';
import { benchSimulation } from './simulation.bench';
import { benchTimelineSearch } from './timelineSearch.bench';
import { benchWebhooks } from './webhooks.bench';

const benches = { graphql: benchGraphql, checkout: benchCheckout, webhooks: benchWebhooks, console: benchConsole, outbox: benchOutbox, reconcile: benchReconcile, timeline: benchTimelineSearch, simulation: benchSimulation };
const only = process.env.BENCH_ONLY?.split(',').map((name) => name.trim()).filter(Boolean);
const unknown = only?.filter((name) => !(name in benches));
if (unknown?.length) throw new Error(`BENCH_ONLY: no benchmark named ${unknown.join(', ')} (there are ${Object.keys(benches).join(', ')})`);

for (const [name, bench] of Object.entries(benches)) {
  if (!only || only.includes(name)) await bench();
}
