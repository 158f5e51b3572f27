/**
 * Finding and checking encoder models on disk: `<dir>/<id>.json` manifests beside `<dir>/<id>.onnx` files.
 */

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

import { ManifestError, validateManifest, type EncoderManifest } from './manifest.js';

/**
 * The encoder used when the user has not picked one: the CenterNet MobileNetV3 backbone. Chosen by bench:quality
 * over nsfwjs' MobileNetV2 (same speed, +5 to +9 ACC points on intel-scenes and CIFAR-10; docs/results.md).
 */
export const DEFAULT_ENCODER_ID = 'centernet_mnv3';

export interface LoadedEncoder {
  manifest: EncoderManifest;
  /** Absolute path of the ONNX file. */
  modelPath: string;
}

/**
 * Read and validate `<dir>/<id>.json`. The manifest's id must equal `id`. Throws ManifestError (naming the bad
 * field) for invalid manifests and a plain Error when the file is missing or not JSON.
 */
export async function loadEncoderManifest(dir: string, id: string): Promise<LoadedEncoder> {
  const file = path.join(dir, `${id}.json`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read encoder manifest ${file}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const manifest = validateManifest(raw);
  if (manifest.id !== id) throw new ManifestError('id', `manifest ${file} has id ${JSON.stringify(manifest.id)}, expected ${JSON.stringify(id)}`);
  return { manifest, modelPath: path.resolve(dir, manifest.file) };
}

/** All valid manifests in `dir`, sorted by id; invalid ones are reported in `errors` instead of throwing. */
export async function listEncoderManifests(dir: string): Promise<{ encoders: LoadedEncoder[]; errors: { file: string; error: string }[] }> {
  const names = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  const encoders: LoadedEncoder[] = [];
  const errors: { file: string; error: string }[] = [];
  for (const f of names) {
    try {
      encoders.push(await loadEncoderManifest(dir, f.slice(0, -'.json'.length)));
    } catch (e) {
      errors.push({ file: path.join(dir, f), error: e instanceof Error ? e.message : String(e) });
    }
  }
  return { encoders, errors };
}

/** sha256 (hex) of a file, streamed. */
export async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Throw unless the encoder's ONNX file exists and matches the manifest's sha256. */
export async function verifyEncoderFile(enc: LoadedEncoder): Promise<void> {
  let actual: string;
  try {
    actual = await fileSha256(enc.modelPath);
  } catch (e) {
    throw new Error(`encoder ${enc.manifest.id}: cannot read ${enc.modelPath}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (actual !== enc.manifest.sha256)
    throw new Error(`encoder ${enc.manifest.id}: ${enc.modelPath} has sha256 ${actual}, manifest says ${enc.manifest.sha256}`);
}
