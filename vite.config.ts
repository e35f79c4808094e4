import react from '@vitejs/plugin-react';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, loadEnv } from 'vite';

const root = fileURLToPath(new URL('./console', import.meta.url));

// The staff console. `npm run build:console` writes dist/console, which the server serves at `/`.
export default defineConfig(({ mode }) => {
  // The console's Supabase sign-in uses the same SUPABASE_URL and SUPABASE_ANON_KEY as the server
  // (environment or .env), baked in at build time; both are public values. Unset: no Supabase form.
  const env = { ...loadEnv(mode, process.cwd(), 'SUPABASE_'), ...process.env };
  const supabase = env.SUPABASE_URL && env.SUPABASE_ANON_KEY ? { url: env.SUPABASE_URL, anonKey: env.SUPABASE_ANON_KEY } : null;
  return {
    root: 'console',
    plugins: [react()],
    define: { __SUPABASE_CONFIG__: JSON.stringify(supabase) },
    build: {
      outDir: '../dist/console',
      emptyOutDir: true,
      // Two pages: the console, and the GraphQL explorer the server serves on GET /graphql outside
      // production (GraphiQL, bundled here so that it needs no network).
      rolldownOptions: {
        input: { console: resolve(root, 'index.html'), explorer: resolve(root, 'explorer.html') },
        // react-compiler-runtime (a GraphiQL dependency) opens with a "use no memo" directive that
        // bundling drops harmlessly; without this, every `npm start` would print a warning about it.
        onwarn(warning, warn) {
          if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
        },
      },
      // GraphiQL (its editor and language service) is one chunk of about 800 kB, loaded only by the explorer.
      chunkSizeWarningLimit: 1000,
    },
    server: {
      // The dev server (hot reload, `npm run dev`) forwards API calls (and the sandbox's dev sign-in) to
      // the API server, on PORT as the server reads it.
      port: 5173,
      proxy: Object.fromEntries(['/graphql', '/_sandbox'].map((path) => [path, `http://127.0.0.1:${env.PORT || 4000}`])),
    },
  };
});
