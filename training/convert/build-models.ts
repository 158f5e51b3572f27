/**
 * CLI: build the bundled image encoders from installed npm packages.
 *
 *   node dist/training/convert/build-models.js [--out models] [--only <id>] [--check]
 *
 * Writes `<out>/<id>.onnx` and `<out>/<id>.json` (EncoderManifest) for every encoder. With `--check` nothing is
 * written: each encoder is converted again in memory and the files on disk must match byte for byte (manifest
 * included, so the recorded sha256 is verified too). Exit code 1 on any mismatch or error.
 */

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { buildEncoder, ENCODERS, manifestText, sha256Hex, type EncoderSpec } from './encoders.js';

export interface BuildReport {
  id: string;
  ok: boolean;
  message: string;
  ms: number;
}

/** Write `data` to `file` atomically (temp file + rename) so a crash never leaves a half-written model. */
async function writeAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

async function readOrNull(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Convert one encoder and write it to `outDir`, or (check) compare with what is there. */
export async function buildOne(spec: EncoderSpec, outDir: string, check: boolean): Promise<BuildReport> {
  const t0 = performance.now();
  const { manifest, onnx } = await buildEncoder(spec);
  const onnxPath = path.join(outDir, manifest.file);
  const jsonPath = path.join(outDir, `${spec.id}.json`);
  const text = manifestText(manifest);
  const size = `${(onnx.length / 1e6).toFixed(1)} MB, ${manifest.output.dim}-d, sha256 ${manifest.sha256.slice(0, 12)}`;
  if (!check) {
    await mkdir(outDir, { recursive: true });
    await writeAtomic(onnxPath, onnx);
    await writeAtomic(jsonPath, text);
    return { id: spec.id, ok: true, message: `wrote ${onnxPath} (${size})`, ms: performance.now() - t0 };
  }
  const problems: string[] = [];
  const onDisk = await readOrNull(onnxPath);
  if (!onDisk) problems.push(`${onnxPath} is missing`);
  else if (sha256Hex(onDisk) !== manifest.sha256) problems.push(`${onnxPath} has sha256 ${sha256Hex(onDisk)}, conversion gives ${manifest.sha256}`);
  const jsonOnDisk = await readOrNull(jsonPath);
  if (!jsonOnDisk) problems.push(`${jsonPath} is missing`);
  else if (jsonOnDisk.toString('utf8') !== text) problems.push(`${jsonPath} differs from the manifest conversion gives`);
  const ok = problems.length === 0;
  return { id: spec.id, ok, message: ok ? `${onnxPath} verified (${size})` : problems.join('; '), ms: performance.now() - t0 };
}

interface CliArgs {
  out: string;
  check: boolean;
  only?: string;
}

function parseArgs(argv: string[]): CliArgs {
  const args: CliArgs = { out: 'models', check: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--check') args.check = true;
    else if (a === '--out' || a === '--only') {
      const v = argv[++i];
      if (!v) throw new Error(`${a} needs a value`);
      if (a === '--out') args.out = v;
      else args.only = v;
    } else if (a === '--help' || a === '-h') {
      console.log('usage: build-models [--out models] [--only <id>] [--check]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const specs = args.only ? ENCODERS.filter((s) => s.id === args.only) : ENCODERS;
  if (specs.length === 0) throw new Error(`no encoder ${args.only}; known: ${ENCODERS.map((s) => s.id).join(', ')}`);
  let failed = 0;
  for (const spec of specs) {
    let r: BuildReport;
    try {
      r = await buildOne(spec, path.resolve(args.out), args.check);
    } catch (e) {
      r = { id: spec.id, ok: false, message: e instanceof Error ? e.message : String(e), ms: 0 };
    }
    if (!r.ok) failed++;
    (r.ok ? console.log : console.error)(`${r.ok ? 'ok  ' : 'FAIL'} ${r.id}: ${r.message} [${Math.round(r.ms)} ms]`);
  }
  return failed ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(`build-models: ${e instanceof Error ? e.message : String(e)}`);
      process.exitCode = 1;
    },
  );
}
