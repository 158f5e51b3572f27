/**
 * Face detection: where the faces in a photo are, with six keypoints each, from the bundled BlazeFace model
 * (models/blazeface_back.onnx, training/convert/face-detector.ts). The model takes any size that is a multiple of its
 * largest stride, so a photo is looked at whole and small (close-ups), then at twice that size (face-geometry.ts),
 * so that small faces in a group photo are as large to the model as a portrait's face; a face found in both is kept
 * once.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { Tensor, type InferenceSession } from 'onnxruntime-node';
import { validateFaceDetectorManifest, type FaceDetectorManifest } from '../../../training/convert/face-detector.js';
import { readModelFile } from '../../../training/models.js';
import { BLAZE_VALUES, blazeAnchors, decodeBlaze, faceScales, scaleFace, suppressFaces, type FaceBox } from './face-geometry.js';
import type { RgbImage } from './preprocess.js';
import { createSessionWithFallback, type Device, type FallbackOptions, type Provider, type ProviderSession } from './providers.js';

/** Bundled face detector id: `models/<id>.json`. */
export const DEFAULT_FACE_DETECTOR_ID = 'blazeface_back';
/** A detection counts as a face from this score (sigmoid of the logit). */
export const DEFAULT_FACE_THRESHOLD = 0.5;

export interface FaceDetectorOptions extends Omit<FallbackOptions, 'probe'> {
  device?: Device;
}

export interface FaceDetectOptions {
  threshold?: number;
  /** Looks at the photo (1: whole, long side at the input size; 2: also twice that; 3: four times). Default 2. */
  levels?: number;
}

/** Read `<id>.json` and the ONNX file it names; the bytes must match its sha256. */
export async function loadFaceDetector(manifestPath: string): Promise<{ manifest: FaceDetectorManifest; bytes: Uint8Array }> {
  const manifest = validateFaceDetectorManifest(JSON.parse(await readFile(manifestPath, 'utf8')));
  const { bytes } = await readModelFile(manifestPath, manifest, 'face detector');
  return { manifest, bytes };
}

export class FaceDetector {
  readonly inputSize: number;
  /** Input sides must be multiples of this; 0 for a model of the square input size only. */
  private readonly multiple: number;
  private readonly anchors = new Map<string, Float32Array>();
  private readonly lut: Float32Array;
  private released = false;

  private constructor(
    readonly manifest: FaceDetectorManifest,
    private readonly ps: ProviderSession,
  ) {
    this.inputSize = manifest.input.width;
    this.multiple = manifest.input.sizeMultiple ?? 0;
    const [lo, hi] = manifest.preprocess.range;
    this.lut = Float32Array.from({ length: 256 }, (_, p) => lo + ((hi - lo) * p) / 255);
  }

  static async open(manifestPath: string, opts: FaceDetectorOptions = {}): Promise<FaceDetector> {
    const { manifest, bytes } = await loadFaceDetector(manifestPath);
    const { device = 'auto', ...fallback } = opts;
    const s = manifest.input.width;
    const ps = await createSessionWithFallback(bytes, device, {
      ...fallback,
      probe: async (session) => {
        const out = await session.run({ [manifest.input.name]: new Tensor('float32', new Float32Array(s * s * 3), [1, s, s, 3]) });
        for (const name of [...manifest.outputs.logits, ...manifest.outputs.boxes]) {
          const t = out[name];
          if (!t) throw new Error(`model produced no output "${name}"`);
          if (!(t.data as Float32Array).every(Number.isFinite)) throw new Error(`probe output "${name}" is not finite`);
        }
      },
    });
    return new FaceDetector(manifest, ps);
  }

  get provider(): Provider {
    return this.ps.provider;
  }

  get session(): InferenceSession {
    return this.ps.session;
  }

  /** Faces in an RGB image, in its pixels, best first. */
  async detect(image: RgbImage, opts: FaceDetectOptions = {}): Promise<FaceBox[]> {
    if (this.released) throw new Error('FaceDetector was released');
    const threshold = opts.threshold ?? DEFAULT_FACE_THRESHOLD;
    const s = this.inputSize;
    // A model of one input size looks only once, at that size.
    const scales = this.multiple
      ? faceScales(image.width, image.height, s, opts.levels ?? 2, this.multiple)
      : faceScales(image.width, image.height, s, 1, 1).map((sc) => ({ ...sc, inputWidth: s, inputHeight: s }));
    // Every look's resize is under way before the first is run.
    const resized = scales.map((sc) =>
      sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
        .resize(sc.width, sc.height, { fit: 'fill' })
        .raw()
        .toBuffer(),
    );
    const { logits, boxes } = this.manifest.outputs;
    const found: FaceBox[] = [];
    for (let i = 0; i < scales.length; i++) {
      const sc = scales[i];
      const px = await resized[i];
      const input = new Float32Array(sc.inputWidth * sc.inputHeight * 3).fill(this.lut[0]);
      for (let y = 0; y < sc.height; y++) {
        const from = y * sc.width * 3;
        const to = y * sc.inputWidth * 3;
        for (let j = 0; j < sc.width * 3; j++) input[to + j] = this.lut[px[from + j]];
      }
      const out = await this.ps.session.run({
        [this.manifest.input.name]: new Tensor('float32', input, [1, sc.inputHeight, sc.inputWidth, 3]),
      });
      const anchors = this.anchorsFor(sc.inputWidth, sc.inputHeight);
      const n = anchors.length / 2;
      const l = new Float32Array(n);
      const b = new Float32Array(n * BLAZE_VALUES);
      let at = 0;
      logits.forEach((name, k) => {
        const lt = out[name].data as Float32Array;
        l.set(lt, at);
        b.set(out[boxes[k]].data as Float32Array, at * BLAZE_VALUES);
        at += lt.length;
      });
      for (const t of Object.values(out)) t.dispose();
      const kx = image.width / sc.width;
      const ky = image.height / sc.height;
      for (const f of decodeBlaze(l, b, anchors, threshold)) found.push(scaleFace(f, kx, ky));
    }
    return suppressFaces(found.filter((f) => f.x + f.w > 0 && f.y + f.h > 0 && f.x < image.width && f.y < image.height));
  }

  private anchorsFor(width: number, height: number): Float32Array {
    const key = `${width}x${height}`;
    let a = this.anchors.get(key);
    if (!a) this.anchors.set(key, (a = blazeAnchors(width, height, this.manifest.anchors.strides, this.manifest.anchors.perCell)));
    return a;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.ps.release();
  }
}
