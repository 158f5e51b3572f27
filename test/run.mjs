#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's test runner: spec output on stdout, and a
// closing line "N passed, N failed, N skipped" counted from a TAP copy of the run.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const testDir = path.join(root, 'dist', 'test');
const only = process.argv.slice(2);
const files = [];
const walk = (d) => {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.test.js') && (only.length === 0 || only.some((o) => p.includes(o)))) files.push(p);
  }
};
if (fs.existsSync(testDir)) walk(testDir);
files.sort();
if (files.length === 0) {
  console.error('No compiled tests found under dist/test (run `npm run build` first).');
  process.exit(1);
}
const tap = path.join(os.tmpdir(), `shoebox-tests-${process.pid}.tap`);
const r = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=2', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...files],
  { stdio: 'inherit', cwd: root },
);
const text = fs.existsSync(tap) ? fs.readFileSync(tap, 'utf8') : '';
fs.rmSync(tap, { force: true });
const count = (k) => Number((text.match(new RegExp(`^# ${k} (\\d+)$`, 'm')) ?? [])[1] ?? 0);
// A skipped test or suite shows as "ok N - name # SKIP reason" (node counts skipped suites nowhere else).
const skipped = (text.match(/^\s*ok \d+ - .* # SKIP/gm) ?? []).length + count('todo');
const failed = count('fail') + count('cancelled');
const passed = count('pass');
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(r.status === 0 && failed === 0 ? 0 : 1);
