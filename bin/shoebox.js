#!/usr/bin/env node
// Entry point of the `shoebox` command. The TypeScript sources are compiled to dist/ by `npm install` (prepare).
import { main } from '../dist/electron/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
