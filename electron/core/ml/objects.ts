/**
 * Object detection: which COCO classes (person, dog, car, pizza ...) a photo shows, with a score each.
 *
 * The detector (models/centernet_objects.onnx, training/convert/detectors.ts) is the full CenterNet whose backbone
 * is the default encoder. It returns, per photo and class, the best object-centre score anywhere in the image
 * (`scores` [N, 80]); here those become the labels at or above a threshold. It takes the same 320x320 NHWC 0..255
 * tensor as centernet_mnv3, so one decode can feed both models ({@link ObjectDetector.acceptsInputOf}).
 */
import { readFile } from 'node:fs/promises';
import { Tensor, type InferenceSession } from 'onnxruntime-node';
import { validateDetectorManifest, type DetectorManifest } from '../../../training/convert/detector-manifest.js';
import { EncoderIntegrityError as ModelIntegrityError, readModelFile, sha256Hex } from '../../../training/models.js';
import { createNormalizer, decodeRgb, elementsPerImage, type DecodeOptions, type PreprocessSpec } from './preprocess.js';
import { createSessionWithFallback, type Device, type FallbackOptions, type Provider, type ProviderSession } from './providers.js';

/** One class found in a photo: its COCO name and the detector's score in [0, 1]. */
export interface DetectedObject {
  label: string;
  score: number;
}

/**
 * Default score a class needs to count as present. Checked by eye on 600 intel-scenes photos: labels scoring >= 0.3
 * were nearly all right, about half of those in 0.2..0.3 were wrong.
 */
export const DEFAULT_OBJECT_THRESHOLD = 0.3;

/** Bundled detector id: `models/<id>.json`. */
export const DEFAULT_DETECTOR_ID = 'centernet_objects';

export interface ObjectDetectorOptions extends Omit<FallbackOptions, 'probe'> {
  /** Which device to run on; default 'auto'. */
  device?: Device;
  /** Decoder limits and resampling kernel, for {@link ObjectDetector.detectImages}. */
  decode?: DecodeOptions;
}

export interface DetectOptions {
  /** Minimum score of a reported class; default {@link DEFAULT_OBJECT_THRESHOLD}. */
  threshold?: number;
  /** Images per inference call; default 1 on the CPU (as the embedder), 16 on GPUs. */
  batchSize?: number;
}

/**
 * Turn a [count, labels.length] score matrix into per-photo labels at or above `threshold`, best first. Each label
 * appears at most once per photo (its score is already the maximum over the image).
 */
export function objectsFromScores(
  scores: Float32Array,
  labels: readonly string[],
  threshold = DEFAULT_OBJECT_THRESHOLD,
): DetectedObject[][] {
  if (!(threshold >= 0 && threshold <= 1)) throw new RangeError(`threshold must be in [0, 1], got ${threshold}`);
  const k = labels.length;
  if (k === 0 || scores.length % k !== 0) throw new RangeError(`${scores.length} scores are not a multiple of ${k} labels`);
  const out: DetectedObject[][] = [];
  for (let i = 0; i < scores.length; i += k) {
    const found: DetectedObject[] = [];
    for (let c = 0; c < k; c++) {
      const s = scores[i + c];
      if (s >= threshold) found.push({ label: labels[c], score: s });
    }
    out.push(found.sort((a, b) => b.score - a.score || a.label.localeCompare(b.label)));
  }
  return out;
}

/** Read `<dir>/<id>.json` and the ONNX file it names; the bytes must match its sha256. */
export async function loadDetector(manifestPath: string): Promise<{ manifest: DetectorManifest; bytes: Uint8Array }> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read detector manifest ${manifestPath}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const manifest = validateDetectorManifest(raw);
  const { bytes } = await readModelFile(manifestPath, manifest, 'detector');
  return { manifest, bytes };
}

/** Runs an object detector on photos or on pre-processed tensors. Create with `open` / `fromModel`. */
export class ObjectDetector {
  /** Elements per pre-processed image. */
  readonly imageSize: number;
  private released = false;

  private constructor(
    readonly manifest: DetectorManifest,
    private readonly ps: ProviderSession,
    private readonly decodeOptions: DecodeOptions,
  ) {
    this.imageSize = elementsPerImage(manifest);
  }

  /** Open the detector described by `manifestPath` (sha256-verified) on the best provider for `opts.device`. */
  static async open(manifestPath: string, opts: ObjectDetectorOptions = {}): Promise<ObjectDetector> {
    const { manifest, bytes } = await loadDetector(manifestPath);
    return ObjectDetector.fromModel(manifest, bytes, opts);
  }

  /** Open a detector from bytes already in memory (checked against `manifest.sha256`). */
  static async fromModel(manifest: DetectorManifest, bytes: Uint8Array, opts: ObjectDetectorOptions = {}): Promise<ObjectDetector> {
    validateDetectorManifest(manifest);
    if (sha256Hex(bytes) !== manifest.sha256)
      throw new ModelIntegrityError(`model bytes do not match the sha256 of detector ${manifest.id}@${manifest.version}`);
    const { device = 'auto', decode = {}, ...fallback } = opts;
    const { width, height, layout, name } = manifest.input;
    const k = manifest.scores.labels.length;
    const ps = await createSessionWithFallback(bytes, device, {
      ...fallback,
      // One run on a grey image: the score output must be [1, labels] and finite.
      probe: async (session) => {
        const shape = layout === 'NHWC' ? [1, height, width, 3] : [1, 3, height, width];
        const out = (await session.run({ [name]: new Tensor('float32', new Float32Array(width * height * 3).fill(128), shape) }))[
          manifest.scores.name
        ];
        if (!out) throw new Error(`model produced no output "${manifest.scores.name}"`);
        if (out.dims.length !== 2 || out.dims[1] !== k)
          throw new Error(`output "${manifest.scores.name}" has shape [${out.dims.join(',')}], expected [1,${k}]`);
        if (!(out.data as Float32Array).every(Number.isFinite)) throw new Error('probe output is not finite');
      },
    });
    return new ObjectDetector(manifest, ps, decode);
  }

  /** The provider the session runs on. */
  get provider(): Provider {
    return this.ps.provider;
  }

  /** The underlying ORT session (benchmarks, diagnostics). */
  get session(): InferenceSession {
    return this.ps.session;
  }

  /** The class names, in the order of the score columns. */
  get labels(): readonly string[] {
    return this.manifest.scores.labels;
  }

  /**
   * Whether a tensor pre-processed for `spec` (e.g. the embedder's manifest) is exactly this detector's input:
   * same size, layout, resize and normalization. Then the embedder's batch can be passed to `detectTensors`.
   */
  acceptsInputOf(spec: PreprocessSpec): boolean {
    const a = this.manifest;
    const same = (x: readonly number[], y: readonly number[]): boolean => x.length === y.length && x.every((v, i) => v === y[i]);
    return (
      a.input.width === spec.input.width &&
      a.input.height === spec.input.height &&
      a.input.layout === spec.input.layout &&
      a.preprocess.resize === spec.preprocess.resize &&
      same(a.preprocess.range, spec.preprocess.range) &&
      same(a.preprocess.mean, spec.preprocess.mean) &&
      same(a.preprocess.std, spec.preprocess.std)
    );
  }

  /** Raw scores [count, labels] of `batch` (count pre-processed images back to back), run `batchSize` at a time. */
  async scoreTensors(batch: Float32Array, batchSize = this.defaultBatchSize()): Promise<Float32Array> {
    if (this.released) throw new Error('ObjectDetector was released');
    if (batch.length % this.imageSize !== 0)
      throw new RangeError(`tensor length ${batch.length} is not a multiple of one image (${this.imageSize})`);
    const count = batch.length / this.imageSize;
    const k = this.labels.length;
    const { width, height, layout, name } = this.manifest.input;
    const result = new Float32Array(count * k);
    const step = Math.max(1, Math.floor(batchSize));
    for (let i = 0; i < count; i += step) {
      const n = Math.min(step, count - i);
      const shape = layout === 'NHWC' ? [n, height, width, 3] : [n, 3, height, width];
      const input = new Tensor('float32', batch.subarray(i * this.imageSize, (i + n) * this.imageSize), shape);
      const outputs = await this.ps.session.run({ [name]: input });
      const out = outputs[this.manifest.scores.name];
      if (out.dims.length !== 2 || out.dims[0] !== n || out.dims[1] !== k)
        throw new Error(`output "${this.manifest.scores.name}" has shape [${out.dims.join(',')}], expected [${n},${k}]`);
      result.set(out.data as Float32Array, i * k);
      out.dispose();
    }
    return result;
  }

  /**
   * The classes in each of `count` pre-processed images (`batch`, this detector's input layout; for the default
   * encoder the embedder's own batch buffer, see `acceptsInputOf`).
   */
  async detectTensors(batch: Float32Array, opts: DetectOptions = {}): Promise<DetectedObject[][]> {
    return objectsFromScores(await this.scoreTensors(batch, opts.batchSize), this.labels, opts.threshold);
  }

  /**
   * Decode (as the manifest says) and detect photos given as paths or encoded bytes. Rejects with the `ImageError`
   * of the first photo that does not decode.
   */
  async detectImages(images: readonly (string | Uint8Array)[], opts: DetectOptions = {}): Promise<DetectedObject[][]> {
    const normalize = createNormalizer(this.manifest);
    const batchSize = Math.max(1, Math.floor(opts.batchSize ?? this.defaultBatchSize()));
    const out: DetectedObject[][] = [];
    for (let i = 0; i < images.length; i += batchSize) {
      const chunk = images.slice(i, i + batchSize);
      const buffer = new Float32Array(chunk.length * this.imageSize);
      const decoded = await Promise.all(chunk.map((img) => decodeRgb(img, this.manifest, this.decodeOptions)));
      decoded.forEach((rgb, j) => normalize(rgb.data, buffer, j * this.imageSize));
      out.push(...(await this.detectTensors(buffer, { ...opts, batchSize })));
    }
    return out;
  }

  /** Free the ORT session. Idempotent. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.ps.release();
  }

  private defaultBatchSize(): number {
    return this.provider === 'cpu' ? 1 : 16;
  }
}

/**
 * Per photo, the COCO classes found (one entry per label, best score first). `detector` is an open detector (kept
 * open) or a manifest path (opened on `opts.device`, default auto, and released afterwards); `images` is either a
 * batch of pre-processed tensors back to back (the embedder's 320x320 NHWC 0..255 buffer) or photo paths / bytes.
 */
export async function detectObjects(
  detector: ObjectDetector | string,
  images: Float32Array | readonly (string | Uint8Array)[],
  opts: DetectOptions & ObjectDetectorOptions = {},
): Promise<DetectedObject[][]> {
  const { threshold, batchSize, ...open } = opts;
  const d = typeof detector === 'string' ? await ObjectDetector.open(detector, open) : detector;
  try {
    return images instanceof Float32Array
      ? await d.detectTensors(images, { threshold, batchSize })
      : await d.detectImages(images, { threshold, batchSize });
  } finally {
    if (typeof detector === 'string') await d.release();
  }
}
