import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig, type Plugin } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.resolve(here, '../dist/renderer');

/**
 * `tsc -p tsconfig.json` also emits the renderer's pure modules (imported by test/renderer) into
 * dist/renderer/src/, so Vite must not empty the whole outDir; it removes only what it builds itself.
 */
function cleanOwnOutput(): Plugin {
  return {
    name: 'shoebox:clean-own-output',
    apply: 'build',
    async buildStart() {
      await rm(path.join(outDir, 'assets'), { recursive: true, force: true });
      await rm(path.join(outDir, 'index.html'), { force: true });
    },
  };
}

export default defineConfig({
  root: here,
  // Relative URLs: the same build loads from http://127.0.0.1:<port>/ and from app://shoebox/ in Electron.
  base: './',
  plugins: [svelte({ configFile: false }), cleanOwnOutput()],
  build: {
    outDir,
    emptyOutDir: false,
    target: 'es2022',
    // No inline polyfill script: the CSP forbids inline scripts.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: true,
  },
  server: { host: '127.0.0.1' },
});
