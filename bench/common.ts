/** Shared helpers for benchmarks: machine description, result files. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CACHE = path.join(REPO, 'bench', 'cache');
export const RESULTS = path.join(REPO, 'bench', 'results');

const require = createRequire(import.meta.url);

function pkgVersion(name: string): string | null {
  try {
    return (JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
}

export function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpus: os.availableParallelism(),
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    versions: {
      sharp: pkgVersion('sharp'),
      'onnxruntime-node': pkgVersion('onnxruntime-node'),
      'better-sqlite3': pkgVersion('better-sqlite3'),
      shoebox:
        pkgVersion('../../package.json') ??
        (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version,
    },
  };
}

/** Write `bench/results/<name>.json` and print its path as the last line. */
export function writeResult(name: string, result: Record<string, unknown>): string {
  fs.mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ name, date: new Date().toISOString(), machine: machine(), ...result }, null, 2) + '\n');
  console.log(file);
  return file;
}

export function argValue(flag: string, fallback: string): string {
  const i = process.argv.indexOf(flag);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

/** A labeled set's MANIFEST.tsv rows ([relative path, label]), at most `perClass` of each label in file order. */
export function labeledSet(dir: string, perClass = Infinity): [string, string][] {
  const taken = new Map<string, number>();
  return fs
    .readFileSync(path.join(dir, 'MANIFEST.tsv'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t') as [string, string])
    .filter(([, label]) => {
      const n = taken.get(label) ?? 0;
      taken.set(label, n + 1);
      return n < perClass;
    });
}
