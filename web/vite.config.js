import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

const webDir = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: webDir,
  base: '/',
  publicDir: 'public',
  plugins: [svelte()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The polyfill would be an extra script for browsers that all support modulepreload by now.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    // Timing hints appear whenever the machine is busy (parallel tests); they are noise in `npm test`.
    rolldownOptions: { checks: { bundlerTimings: false } },
  },
  server: {
    // `vite` in web/ for front-end work against a Pixa running on :8080.
    proxy: { '/api': 'http://127.0.0.1:8080' },
  },
});
