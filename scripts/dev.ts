// `npm run dev`: the server under `tsx watch` (restarted on every change) and the console under Vite's
// dev server (hot reload), which forwards the console's API calls to the server (vite.config.ts).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createServer } from 'vite';
import { MALLOC_TUNABLES } from '../server/platform/db/pglite';

const tsx = fileURLToPath(import.meta.resolve('tsx/cli'));
// glibc's malloc settings of `npm start` (server/platform/db/pglite.ts says why), unless the environment has its own.
const server = spawn(process.execPath, [tsx, 'watch', 'server/main.ts'], { stdio: 'inherit', env: { GLIBC_TUNABLES: MALLOC_TUNABLES, ...process.env } });
const vite = await createServer({ configFile: 'vite.config.ts' });
await vite.listen();
vite.printUrls();

let stopping = false;
async function stop(code: number) {
  if (stopping) return;
  stopping = true;
  server.kill('SIGTERM');
  await vite.close();
  process.exit(code);
}
server.on('exit', (code) => void stop(code ?? 0));
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
