#!/usr/bin/env node
// The `pixa` command. Runs the compiled server from dist/ (`npm run build` makes it).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/pixa.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('pixa: dist/ is missing. Run `npm run build` (or `npm start`) first.\n');
  process.exit(1);
}
const { main } = await import(entry.href);
const code = await main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
