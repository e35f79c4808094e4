#!/usr/bin/env node
// `npx payments-ops` (and `npm run cli`): the admin CLI, server/cli/main.ts, run through tsx so that a
// clone works after `npm install` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../server/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
