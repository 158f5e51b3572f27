/**
 * Object-detector manifest (`models/<id>.json` beside `<id>.onnx`): how to feed the detector, what its score output
 * means (one label per column) and where its weights came from. Deliberately not an EncoderManifest (no `output`
 * field), so the encoder registry never offers a detector as an embedding model.
 */

import type { EncoderManifest } from '../manifest.js';

/** The 80 COCO 2017 detection categories in category-id order (ids 1..90 with gaps, compacted to 0..79). */
export const COCO_LABELS: readonly string[] = [
  'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat', 'traffic light',
  'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
  'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee',
  'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
  'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
  'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant', 'bed',
  'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone', 'microwave', 'oven',
  'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear', 'hair drier', 'toothbrush',
];

export const DETECTOR_KIND = 'object-detector';

export interface DetectorManifest {
  id: string;
  version: string;
  kind: typeof DETECTOR_KIND;
  /** ONNX file name, relative to the manifest's folder. */
  file: string;
  /** sha256 (hex) of the ONNX file. */
  sha256: string;
  opset: number;
  /** Same meaning as an encoder's: the image tensor and how pixels are mapped into it. */
  input: EncoderManifest['input'];
  preprocess: EncoderManifest['preprocess'];
  /** Output `name` is [batch, labels.length]: per label, the highest object-centre score anywhere in the photo. */
  scores: { name: string; labels: string[] };
  source: {
    package: string;
    version: string;
    /** Path of the source model inside the package. */
    path: string;
    /** sha256 (hex) of each source file read (model.json and its weight shards), by path inside the package. */
    files: Record<string, string>;
    /** Source node the scores are computed from. */
    cutAt: string;
    license: string;
    weightsLicense?: string;
  };
  summary?: string;
  notes?: string;
}

export class DetectorManifestError extends Error {
  constructor(
    public readonly field: string,
    message: string,
  ) {
    super(`invalid detector manifest: ${field}: ${message}`);
    this.name = 'DetectorManifestError';
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isHex = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
const isNums = (n: number) => (v: unknown): boolean => Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x));

/** Validate untrusted JSON as a DetectorManifest; throws DetectorManifestError naming the first bad field. */
export function validateDetectorManifest(raw: unknown): DetectorManifest {
  const check = (o: Record<string, unknown>, key: string, at: string, ok: (v: unknown) => boolean, what: string): unknown => {
    if (!ok(o[key])) throw new DetectorManifestError(`${at}${key}`, `expected ${what}, got ${JSON.stringify(o[key])}`);
    return o[key];
  };
  const obj = (o: Record<string, unknown>, key: string, at = ''): Record<string, unknown> => check(o, key, at, isObj, 'an object') as Record<string, unknown>;
  if (!isObj(raw)) throw new DetectorManifestError('(root)', 'expected an object');
  check(raw, 'id', '', (v) => isStr(v) && /^[A-Za-z0-9._-]+$/.test(v), 'an id of [A-Za-z0-9._-]');
  check(raw, 'version', '', isStr, 'a version string');
  check(raw, 'kind', '', (v) => v === DETECTOR_KIND, JSON.stringify(DETECTOR_KIND));
  check(raw, 'file', '', (v) => isStr(v) && !/[/\\]/.test(v) && v.endsWith('.onnx'), 'a bare .onnx file name');
  check(raw, 'sha256', '', isHex, 'a hex sha256');
  check(raw, 'opset', '', isPosInt, 'a positive integer');
  const input = obj(raw, 'input');
  check(input, 'name', 'input.', isStr, 'a string');
  check(input, 'layout', 'input.', (v) => v === 'NHWC' || v === 'NCHW', '"NHWC" or "NCHW"');
  check(input, 'width', 'input.', isPosInt, 'a positive integer');
  check(input, 'height', 'input.', isPosInt, 'a positive integer');
  check(input, 'channels', 'input.', (v) => v === 3, '3');
  check(input, 'dtype', 'input.', (v) => v === 'float32', '"float32"');
  const pre = obj(raw, 'preprocess');
  check(pre, 'resize', 'preprocess.', (v) => v === 'cover' || v === 'fill', '"cover" or "fill"');
  check(pre, 'range', 'preprocess.', isNums(2), 'two numbers');
  check(pre, 'mean', 'preprocess.', isNums(3), 'three numbers');
  check(pre, 'std', 'preprocess.', (v) => isNums(3)(v) && (v as number[]).every((x) => x !== 0), 'three non-zero numbers');
  const scores = obj(raw, 'scores');
  check(scores, 'name', 'scores.', isStr, 'a string');
  check(scores, 'labels', 'scores.', (v) => Array.isArray(v) && v.length > 0 && v.every(isStr) && new Set(v).size === v.length, 'distinct label strings');
  const source = obj(raw, 'source');
  for (const key of ['package', 'version', 'path', 'cutAt', 'license']) check(source, key, 'source.', isStr, 'a string');
  check(source, 'files', 'source.', (v) => isObj(v) && Object.keys(v).length > 0 && Object.values(v).every(isHex), 'file paths with hex sha256s');
  return raw as unknown as DetectorManifest;
}
