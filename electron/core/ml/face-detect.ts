/**
 * Face detection: where the faces in a photo are, with six keypoints each, from the bundled BlazeFace model
 * (models/blazeface_back.onnx, training/convert/face-detector.ts). A photo is looked at whole and in overlapping
 * tiles (face-geometry.ts), all tiles in one batch, so that small faces in a group photo are as large to the model
 * as a portrait's face; the same face found in several tiles is kept once.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { Tensor, type InferenceSession } from 'onnxruntime-node';
import { validateFaceDetectorManifest, type FaceDetectorManifest } from '../../../training/convert/face-detector.js';
import { readModelFile } from '../../../training/models.js';
import {
  BLAZE_VALUES,
  blazeAnchors,
  decodeBlaze,
  faceTiles,
  suppressFaces,
  tileToImage,
  type FaceBox,
  type FaceTile,
} from './face-geometry.js';
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
  /** Tile levels (1: the whole image only; 2: plus half-size tiles; 3: plus quarter-size). Default 2. */
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
  private readonly anchors: Float32Array;
  private readonly lut: Float32Array;
  private released = false;

  private constructor(
    readonly manifest: FaceDetectorManifest,
    private readonly ps: ProviderSession,
  ) {
    this.inputSize = manifest.input.width;
    this.anchors = blazeAnchors(this.inputSize, manifest.anchors.strides, manifest.anchors.perCell);
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
    const tiles = faceTiles(image.width, image.height, this.inputSize, opts.levels ?? 2);
    const s = this.inputSize;
    const per = s * s * 3;
    const batch = new Float32Array(tiles.length * per);
    const pixels = await Promise.all(tiles.map((t) => this.tilePixels(image, t)));
    pixels.forEach((px, i) => {
      const o = i * per;
      for (let j = 0; j < per; j++) batch[o + j] = this.lut[px[j]];
    });
    const { logits, boxes } = this.manifest.outputs;
    const out = await this.ps.session.run({ [this.manifest.input.name]: new Tensor('float32', batch, [tiles.length, s, s, 3]) });
    const found: FaceBox[] = [];
    const anchorCount = this.anchors.length / 2;
    tiles.forEach((tile, i) => {
      const l = new Float32Array(anchorCount);
      const b = new Float32Array(anchorCount * BLAZE_VALUES);
      let at = 0;
      logits.forEach((name, k) => {
        const lt = out[name].data as Float32Array;
        const bt = out[boxes[k]].data as Float32Array;
        const n = lt.length / tiles.length;
        l.set(lt.subarray(i * n, (i + 1) * n), at);
        b.set(bt.subarray(i * n * BLAZE_VALUES, (i + 1) * n * BLAZE_VALUES), at * BLAZE_VALUES);
        at += n;
      });
      for (const f of decodeBlaze(l, b, this.anchors, threshold)) found.push(tileToImage(f, tile, s));
    });
    for (const t of Object.values(out)) t.dispose();
    return suppressFaces(found.filter((f) => f.x + f.w > 0 && f.y + f.h > 0 && f.x < image.width && f.y < image.height));
  }

  /** A tile's pixels at the detector's input size (RGB bytes, row-major); where the tile leaves the image, black. */
  private async tilePixels(image: RgbImage, t: FaceTile): Promise<Uint8Array> {
    const s = this.inputSize;
    const w = Math.min(t.size, image.width - t.x);
    const h = Math.min(t.size, image.height - t.y);
    const tw = Math.max(1, Math.min(s, Math.round((w * s) / t.size)));
    const th = Math.max(1, Math.min(s, Math.round((h * s) / t.size)));
    const buf = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
      .extract({ left: t.x, top: t.y, width: w, height: h })
      .resize(tw, th, { fit: 'fill' })
      .extend({ right: s - tw, bottom: s - th, background: { r: 0, g: 0, b: 0 } })
      .raw()
      .toBuffer();
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.ps.release();
  }
}
