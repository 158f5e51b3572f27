/**
 * CLI: build the bundled image encoders, object detectors, face detector and face embedder from installed npm packages.
 *
 *   node dist/training/convert/build-models.js [--out models] [--only <id>] [--check]
 *
 * Writes `<out>/<id>.onnx` and `<out>/<id>.json` (EncoderManifest, or DetectorManifest for a detector) for every
 * model. With `--check` nothing is written: each model is converted again in memory and the files on disk must match
 * byte for byte (manifest included, so the recorded sha256 is verified too). Exit code 1 on any mismatch or error.
 */

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { buildDetector, DETECTORS, type DetectorSpec } from './detectors.js';
import { BLAZEFACE_BACK, buildFaceDetector, type FaceDetectorSpec } from './face-detector.js';
import { convertFaceEmbedder, FACERES, type FaceEmbedderSpec } from './faces.js';
import { buildEncoder, ENCODERS, manifestText, sha256Hex, type BuiltEncoder, type EncoderSpec } from './encoders.js';
import { buildDual, DUAL_MNV3_MNV2 } from './dual.js';

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

/** A converted model: its ONNX bytes (file name and sha256 as in its manifest) and manifest text. */
interface Built {
  id: string;
  file: string;
  onnx: Uint8Array;
  sha256: string;
  text: string;
  /** For the report line, e.g. "120-d". */
  desc: string;
}

/** Write a converted model and its manifest to `outDir`, or (check) compare them with the files there. */
async function writeOrCheck(
  { id, file, onnx, sha256, text, desc }: Built,
  outDir: string,
  check: boolean,
  t0: number,
): Promise<BuildReport> {
  const onnxPath = path.join(outDir, file);
  const jsonPath = path.join(outDir, `${id}.json`);
  const size = `${(onnx.length / 1e6).toFixed(1)} MB, ${desc}, sha256 ${sha256.slice(0, 12)}`;
  if (!check) {
    await mkdir(outDir, { recursive: true });
    await writeAtomic(onnxPath, onnx);
    await writeAtomic(jsonPath, text);
    return { id, ok: true, message: `wrote ${onnxPath} (${size})`, ms: performance.now() - t0 };
  }
  const problems: string[] = [];
  const onDisk = await readOrNull(onnxPath);
  if (!onDisk) problems.push(`${onnxPath} is missing`);
  else if (sha256Hex(onDisk) !== sha256) problems.push(`${onnxPath} has sha256 ${sha256Hex(onDisk)}, conversion gives ${sha256}`);
  const jsonOnDisk = await readOrNull(jsonPath);
  if (!jsonOnDisk) problems.push(`${jsonPath} is missing`);
  else if (jsonOnDisk.toString('utf8') !== text) problems.push(`${jsonPath} differs from the manifest conversion gives`);
  const ok = problems.length === 0;
  return { id, ok, message: ok ? `${onnxPath} verified (${size})` : problems.join('; '), ms: performance.now() - t0 };
}

/** Convert one encoder and write it to `outDir`, or (check) compare with what is there. */
export async function buildOne(spec: EncoderSpec, outDir: string, check: boolean): Promise<BuildReport> {
  return writeEncoder(spec.id, () => buildEncoder(spec), outDir, check);
}

async function writeEncoder(id: string, build: () => Promise<BuiltEncoder>, outDir: string, check: boolean): Promise<BuildReport> {
  const t0 = performance.now();
  const { manifest, onnx } = await build();
  const built = {
    id,
    file: manifest.file,
    onnx,
    sha256: manifest.sha256,
    text: manifestText(manifest),
    desc: `${manifest.output.dim}-d`,
  };
  return writeOrCheck(built, outDir, check, t0);
}

/** Convert one object detector and write it to `outDir`, or (check) compare with what is there. */
export async function buildDetectorOne(spec: DetectorSpec, outDir: string, check: boolean): Promise<BuildReport> {
  const t0 = performance.now();
  const { manifest, onnx } = await buildDetector(spec);
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  return writeOrCheck(
    { id: spec.id, file: manifest.file, onnx, sha256: manifest.sha256, text, desc: `${manifest.scores.labels.length} classes` },
    outDir,
    check,
    t0,
  );
}

/** Convert one face detector and write it to `outDir`, or (check) compare with what is there. */
export async function buildFaceDetectorOne(spec: FaceDetectorSpec, outDir: string, check: boolean): Promise<BuildReport> {
  const t0 = performance.now();
  const { manifest, onnx } = await buildFaceDetector(spec);
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  return writeOrCheck(
    { id: spec.id, file: manifest.file, onnx, sha256: manifest.sha256, text, desc: `${manifest.anchors.strides.length} heads` },
    outDir,
    check,
    t0,
  );
}

/** Convert one face embedder and write it to `outDir`, or (check) compare with what is there. */
export async function buildFaceEmbedderOne(spec: FaceEmbedderSpec, outDir: string, check: boolean): Promise<BuildReport> {
  const t0 = performance.now();
  const { manifest, onnx } = await convertFaceEmbedder(spec);
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  return writeOrCheck(
    { id: spec.id, file: manifest.file, onnx, sha256: manifest.sha256, text, desc: `${manifest.output.dim}-d faces` },
    outDir,
    check,
    t0,
  );
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
  const jobs = [
    ...ENCODERS.map((spec) => ({ id: spec.id, run: (out: string) => buildOne(spec, out, args.check) })),
    { id: DUAL_MNV3_MNV2.id, run: (out: string) => writeEncoder(DUAL_MNV3_MNV2.id, () => buildDual(DUAL_MNV3_MNV2), out, args.check) },
    ...DETECTORS.map((spec) => ({ id: spec.id, run: (out: string) => buildDetectorOne(spec, out, args.check) })),
    ...[BLAZEFACE_BACK].map((spec) => ({ id: spec.id, run: (out: string) => buildFaceDetectorOne(spec, out, args.check) })),
    ...[FACERES].map((spec) => ({ id: spec.id, run: (out: string) => buildFaceEmbedderOne(spec, out, args.check) })),
  ];
  const selected = args.only ? jobs.filter((j) => j.id === args.only) : jobs;
  if (selected.length === 0) throw new Error(`no model ${args.only}; known: ${jobs.map((j) => j.id).join(', ')}`);
  let failed = 0;
  for (const job of selected) {
    let r: BuildReport;
    try {
      r = await job.run(path.resolve(args.out));
    } catch (e) {
      r = { id: job.id, ok: false, message: e instanceof Error ? e.message : String(e), ms: 0 };
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
