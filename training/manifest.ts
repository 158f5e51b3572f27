/**
 * Encoder manifest: everything the embedding service needs to run an ONNX image encoder exactly as it was meant
 * to be run, plus the provenance of its weights. Stored beside the model as `models/<id>.json`.
 */

export interface EncoderManifest {
  /** Stable id, also the file stem: `models/<id>.onnx`. */
  id: string;
  /** Bumped whenever the weights change (fine-tuned versions get their own ids/versions). */
  version: string;
  /** ONNX file name, relative to the manifest's folder. */
  file: string;
  /** sha256 (hex) of the ONNX file. */
  sha256: string;
  opset: number;
  input: {
    name: string;
    /** NHWC: [N, H, W, C]; NCHW: [N, C, H, W]. */
    layout: 'NHWC' | 'NCHW';
    width: number;
    height: number;
    channels: 3;
    dtype: 'float32';
  };
  preprocess: {
    /** cover: scale so the image covers width x height, then center-crop; fill: stretch to width x height. */
    resize: 'cover' | 'fill';
    /** Pixel values are mapped from [0,255] to [range[0], range[1]], then (x - mean[c]) / std[c]. */
    range: [number, number];
    mean: [number, number, number];
    std: [number, number, number];
  };
  output: {
    name: string;
    dim: number;
  };
  source: {
    /** npm package and version the weights came from (or "fine-tuned" for on-device versions). */
    package: string;
    version: string;
    /** Path of the source model inside the package. */
    path?: string;
    /** Node in the source graph the encoder was cut at. */
    cutAt?: string;
    license: string;
    weightsLicense?: string;
    /** For fine-tuned models: the id@version of the encoder they were trained from. */
    parent?: string;
    /** For a model merged from several encoders (the dual encoder): each one's id, version, sha256 and source. */
    parts?: { id: string; version: string; sha256: string; source: Omit<EncoderManifest['source'], 'parts'> }[];
  };
  /**
   * Optional: what the trainable adapter reads instead of the embedding (training/train/features.ts): the global
   * average pools of these graph tensors [N, C, H, W], concatenated into `dim` features.
   */
  trainFeatures?: TrainFeatures;
  /** One sentence for the person choosing an encoder in Settings: what it means for their albums. */
  summary?: string;
  /** Free-form notes: how it was made. */
  notes?: string;
}

/** Pooled graph tensors the adapter trains on (see EncoderManifest.trainFeatures). */
export interface TrainFeatures {
  pooled: string[];
  dim: number;
  /**
   * They take much more work than the embedding (the dual encoder's second backbone), so a new library's first
   * albums are made from the embedding alone and the features in a later pass, before training reads them.
   */
  deferred?: boolean;
  /**
   * Each pooled tensor scaled to unit length per photo before they are concatenated. Stored features stay plain
   * (a library's cached features serve either way); the scaling is applied where they are read, see features.ts.
   */
  unitParts?: boolean;
  /** Channels of each pooled tensor, in order (they sum to `dim`); needed with `unitParts`. */
  partDims?: number[];
}

export class ManifestError extends Error {
  constructor(
    public readonly field: string,
    message: string,
  ) {
    super(`invalid encoder manifest: ${field}: ${message}`);
    this.name = 'ManifestError';
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function req<T>(o: Record<string, unknown>, key: string, path: string, check: (v: unknown) => v is T, what: string): T {
  const v = o[key];
  if (!check(v)) throw new ManifestError(`${path}${key}`, `expected ${what}, got ${JSON.stringify(v)}`);
  return v;
}

const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isTriple = (v: unknown): v is [number, number, number] => Array.isArray(v) && v.length === 3 && v.every(isNum);
const isPair = (v: unknown): v is [number, number] => Array.isArray(v) && v.length === 2 && v.every(isNum);

/** Validate untrusted JSON as an EncoderManifest; throws ManifestError naming the first bad field. */
export function validateManifest(raw: unknown): EncoderManifest {
  if (!isObj(raw)) throw new ManifestError('(root)', 'expected an object');
  req(raw, 'id', '', (v): v is string => isStr(v) && /^[A-Za-z0-9._-]+$/.test(v), 'an id of [A-Za-z0-9._-]');
  req(raw, 'version', '', isStr, 'a version string');
  // Detectors and face embedders carry a kind; an image encoder's manifest has none.
  req(raw, 'kind', '', (v): v is undefined => v === undefined, 'no kind (this manifest describes another kind of model)');
  req(
    raw,
    'file',
    '',
    (v): v is string => isStr(v) && !v.includes('/') && !v.includes('\\') && v.endsWith('.onnx'),
    'a bare .onnx file name',
  );
  req(raw, 'sha256', '', (v): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v), 'a hex sha256');
  req(raw, 'opset', '', isPosInt, 'a positive integer');
  const input = req(raw, 'input', '', isObj, 'an object');
  req(input, 'name', 'input.', isStr, 'a string');
  req(input, 'layout', 'input.', (v): v is string => v === 'NHWC' || v === 'NCHW', '"NHWC" or "NCHW"');
  req(input, 'width', 'input.', isPosInt, 'a positive integer');
  req(input, 'height', 'input.', isPosInt, 'a positive integer');
  req(input, 'channels', 'input.', (v): v is 3 => v === 3, '3');
  req(input, 'dtype', 'input.', (v): v is string => v === 'float32', '"float32"');
  const pre = req(raw, 'preprocess', '', isObj, 'an object');
  req(pre, 'resize', 'preprocess.', (v): v is string => v === 'cover' || v === 'fill', '"cover" or "fill"');
  req(pre, 'range', 'preprocess.', isPair, 'two numbers');
  req(pre, 'mean', 'preprocess.', isTriple, 'three numbers');
  req(pre, 'std', 'preprocess.', (v): v is [number, number, number] => isTriple(v) && v.every((x) => x !== 0), 'three non-zero numbers');
  const output = req(raw, 'output', '', isObj, 'an object');
  req(output, 'name', 'output.', isStr, 'a string');
  req(output, 'dim', 'output.', isPosInt, 'a positive integer');
  const source = req(raw, 'source', '', isObj, 'an object');
  req(source, 'package', 'source.', isStr, 'a string');
  req(source, 'version', 'source.', isStr, 'a string');
  req(source, 'license', 'source.', isStr, 'a string');
  if (raw.summary !== undefined) req(raw, 'summary', '', isStr, 'a string');
  if (raw.trainFeatures !== undefined) {
    const features = req(raw, 'trainFeatures', '', isObj, 'an object');
    req(
      features,
      'pooled',
      'trainFeatures.',
      (v): v is string[] => Array.isArray(v) && v.length > 0 && v.every(isStr),
      'a non-empty list of tensor names',
    );
    req(features, 'dim', 'trainFeatures.', isPosInt, 'a positive integer');
    for (const flag of ['deferred', 'unitParts'])
      if (features[flag] !== undefined) req(features, flag, 'trainFeatures.', (v): v is boolean => typeof v === 'boolean', 'true or false');
    const pooled = features.pooled as string[];
    const dim = features.dim as number;
    if (features.partDims !== undefined || features.unitParts === true)
      req(
        features,
        'partDims',
        'trainFeatures.',
        (v): v is number[] => Array.isArray(v) && v.length === pooled.length && v.every(isPosInt) && v.reduce((a: number, b: number) => a + b, 0) === dim,
        `one positive integer per pooled tensor (${pooled.length}), summing to dim`,
      );
  }
  return raw as unknown as EncoderManifest;
}
