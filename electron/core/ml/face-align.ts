/**
 * Face alignment: the similarity transform (rotation, uniform scale, shift) that puts a detected face's eyes, nose
 * and mouth where a face embedder expects them, and the crop it gives, sampled bilinearly from the photo.
 */
import type { FaceBox } from './face-geometry.js';
import type { RgbImage } from './preprocess.js';

/**
 * Where the right eye, left eye, nose tip and mouth centre of an upright frontal face lie in a 112 x 112 crop (the
 * common ArcFace layout; the subject's right eye is on the image's left), as fractions of the side.
 */
export const FACE_TEMPLATE: readonly [number, number][] = [
  [38.29 / 112, 51.6 / 112],
  [73.53 / 112, 51.5 / 112],
  [56.03 / 112, 71.74 / 112],
  [56.14 / 112, 92.29 / 112],
];

/** x' = a x - b y + tx, y' = b x + a y + ty. */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

/** The least-squares similarity mapping `from` onto `to` (no reflection). */
export function fitSimilarity(from: readonly [number, number][], to: readonly [number, number][]): Similarity {
  const n = from.length;
  if (n < 2 || to.length !== n) throw new RangeError('need at least two point pairs');
  let fx = 0;
  let fy = 0;
  let gx = 0;
  let gy = 0;
  for (let i = 0; i < n; i++) {
    fx += from[i][0] / n;
    fy += from[i][1] / n;
    gx += to[i][0] / n;
    gy += to[i][1] / n;
  }
  let sxx = 0;
  let sxy = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    const px = from[i][0] - fx;
    const py = from[i][1] - fy;
    const qx = to[i][0] - gx;
    const qy = to[i][1] - gy;
    sxx += px * qx + py * qy;
    sxy += px * qy - py * qx;
    norm += px * px + py * py;
  }
  if (!(norm > 0)) throw new RangeError('the source points coincide');
  const a = sxx / norm;
  const b = sxy / norm;
  return { a, b, tx: gx - (a * fx - b * fy), ty: gy - (b * fx + a * fy) };
}

/** The face's in-plane roll in degrees (0 = eyes level), from its eyes. */
export function faceRoll(face: FaceBox): number {
  const [r, l] = face.landmarks;
  return (Math.atan2(l[1] - r[1], l[0] - r[0]) * 180) / Math.PI;
}

/**
 * The aligned `size` x `size` RGB crop of `face` from `image`: eyes, nose and mouth mapped onto FACE_TEMPLATE,
 * bilinear, black outside the photo.
 */
export function alignFace(image: RgbImage, face: FaceBox, size: number): Uint8Array {
  const to = FACE_TEMPLATE.map(([x, y]) => [x * size, y * size] as [number, number]);
  const from = face.landmarks.slice(0, 4);
  // Inverse map: crop pixel -> photo pixel.
  const { a, b, tx, ty } = fitSimilarity(to, from);
  const out = new Uint8Array(size * size * 3);
  const { data, width, height } = image;
  // Four neighbours per pixel, each weighted, a neighbour outside the photo counting as black.
  for (let v = 0; v < size; v++) {
    for (let u = 0; u < size; u++) {
      const cx = u + 0.5;
      const cy = v + 0.5;
      const x = a * cx - b * cy + tx - 0.5;
      const y = b * cx + a * cy + ty - 0.5;
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      const fx = x - x0;
      const fy = y - y0;
      const o = (v * size + u) * 3;
      const inX0 = x0 >= 0 && x0 < width;
      const inX1 = x0 + 1 >= 0 && x0 + 1 < width;
      const inY0 = y0 >= 0 && y0 < height;
      const inY1 = y0 + 1 >= 0 && y0 + 1 < height;
      const w00 = inX0 && inY0 ? (1 - fx) * (1 - fy) : 0;
      const w10 = inX1 && inY0 ? fx * (1 - fy) : 0;
      const w01 = inX0 && inY1 ? (1 - fx) * fy : 0;
      const w11 = inX1 && inY1 ? fx * fy : 0;
      if (w00 + w10 + w01 + w11 === 0) continue;
      // Indices of out-of-photo neighbours are clamped; their weight is 0.
      const cx0 = Math.min(width - 1, Math.max(0, x0));
      const cx1 = Math.min(width - 1, Math.max(0, x0 + 1));
      const r0 = Math.min(height - 1, Math.max(0, y0)) * width;
      const r1 = Math.min(height - 1, Math.max(0, y0 + 1)) * width;
      const i00 = (r0 + cx0) * 3;
      const i10 = (r0 + cx1) * 3;
      const i01 = (r1 + cx0) * 3;
      const i11 = (r1 + cx1) * 3;
      for (let c = 0; c < 3; c++)
        out[o + c] = Math.round(w00 * data[i00 + c] + w10 * data[i10 + c] + w01 * data[i01 + c] + w11 * data[i11 + c]);
    }
  }
  return out;
}
