import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The staff console. `npm run build:console` writes dist/console, which the server serves at `/`.
export default defineConfig({
  root: 'console',
  plugins: [react()],
  build: { outDir: '../dist/console', emptyOutDir: true },
  server: {
    // `vite` on its own (hot reload) forwards API calls to the server on port 4000.
    proxy: { '/graphql': 'http://127.0.0.1:4000' },
  },
});
