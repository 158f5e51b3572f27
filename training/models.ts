/**
 * The one way to read an encoder from disk: `<dir>/<id>.json` (a validated manifest) beside the ONNX file it
 * names, whose bytes must match the manifest's sha256. The app's registry (electron/core/encoders.ts), the embedder
 * and the tests all read encoders through here.
 */

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { ManifestError, validateManifest, type EncoderManifest } from './manifest.js';

/**
 * The encoder used when the user has not picked one: the CenterNet MobileNetV3 backbone. Chosen by bench:quality
 * over nsfwjs' MobileNetV2 (docs/results.md).
 */
export const DEFAULT_ENCODER_ID = 'centernet_mnv3';

/** The model file does not match its manifest (or cannot be read). */
export class EncoderIntegrityError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EncoderIntegrityError';
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Read and validate a manifest file; with `id`, the manifest's id must equal it (the file is `<id>.json`). Throws
 * ManifestError (naming the bad field) for an invalid manifest and a plain Error when the file is missing or not
 * JSON.
 */
export function readEncoderManifest(file: string, id?: string): EncoderManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read encoder manifest ${file}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const manifest = validateManifest(raw);
  if (id !== undefined && manifest.id !== id)
    throw new ManifestError('id', `manifest ${file} has id ${JSON.stringify(manifest.id)}, expected ${JSON.stringify(id)}`);
  return manifest;
}

/** A validated manifest together with its verified model bytes. */
export interface LoadedEncoder {
  manifest: EncoderManifest;
  /** Absolute path of the ONNX file. */
  modelPath: string;
  bytes: Uint8Array;
}

/**
 * The ONNX file a model manifest (encoder, detector, face model) names beside it, read and checked against the
 * manifest's sha256. `what` names the kind of model in the errors.
 */
export async function readModelFile(
  manifestPath: string,
  manifest: { id: string; version: string; file: string; sha256: string },
  what = 'model',
): Promise<{ modelPath: string; bytes: Uint8Array }> {
  const modelPath = path.resolve(path.dirname(manifestPath), manifest.file);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(modelPath));
  } catch (e) {
    throw new EncoderIntegrityError(`${what} ${manifest.id}: cannot read ${modelPath}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  }
  const actual = sha256Hex(bytes);
  if (actual !== manifest.sha256) {
    throw new EncoderIntegrityError(
      `${modelPath}: sha256 ${actual} does not match manifest ${manifest.id}@${manifest.version} (${manifest.sha256}); the file is corrupt or was replaced`,
    );
  }
  return { modelPath, bytes };
}

/** Read `<dir>/<id>.json`, validate it, read the ONNX file beside it and check its sha256. */
export async function loadEncoder(manifestPath: string): Promise<LoadedEncoder> {
  const id = path.basename(manifestPath, '.json');
  const manifest = readEncoderManifest(manifestPath, id);
  return { manifest, ...(await readModelFile(manifestPath, manifest, 'encoder')) };
}
