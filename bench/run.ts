// `npm run bench`: every benchmark, each printing its figures and its peer's from the same run.
// BENCH_ROUNDS and BENCH_SECONDS shorten or lengthen the runs.
import { benchCheckout } from './checkout.bench';
import { benchGraphql } from './graphql.bench';

await benchGraphql();
await benchCheckout();
