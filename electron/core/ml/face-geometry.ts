/**
 * Face detection geometry, independent of the model runtime: BlazeFace anchors and the decoding of its outputs,
 * the sizes a photo is looked at (the whole photo small for close-ups, then larger, so that a 48 px face in a
 * 1024 px decode is as large to the detector as a close-up), and the suppression of the same face found twice.
 */

/** A face in some image's pixel coordinates: its box, the detector's score and six keypoints. */
export interface FaceBox {
  x: number;
  y: number;
  w: number;
  h: number;
  score: number;
  /** [x, y] of the right eye, left eye, nose tip, mouth, right ear and left ear (the subject's right and left). */
  landmarks: [number, number][];
}

/**
 * One look of the detector at a photo: the photo resized to `width` x `height`, then padded with black on the right
 * and bottom to the model's input, `inputWidth` x `inputHeight`.
 */
export interface FaceScale {
  width: number;
  height: number;
  inputWidth: number;
  inputHeight: number;
}

export const KEYPOINTS = ['right eye', 'left eye', 'nose', 'mouth', 'right ear', 'left ear'] as const;
/** Values per anchor in BlazeFace's regressor output: centre offset, size, then 6 keypoints. */
export const BLAZE_VALUES = 4 + 2 * KEYPOINTS.length;

/**
 * Anchor centres (x, y pairs, input pixels) of a BlazeFace model on a `width` x `height` input: per stride, a grid
 * of cells with `perCell` anchors each at the cell's centre, row by row, strides in order (the order of the model's
 * concatenated outputs).
 */
export function blazeAnchors(width: number, height: number, strides: readonly number[], perCell: readonly number[]): Float32Array {
  if (strides.length !== perCell.length) throw new RangeError('strides and perCell differ in length');
  const out: number[] = [];
  strides.forEach((stride, s) => {
    for (let gy = 0; gy < Math.ceil(height / stride); gy++)
      for (let gx = 0; gx < Math.ceil(width / stride); gx++)
        for (let k = 0; k < perCell[s]; k++) out.push(stride * (gx + 0.5), stride * (gy + 0.5));
  });
  return Float32Array.from(out);
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/**
 * Faces of one detector run, in the input's pixels: `logits` (one per anchor, before the sigmoid) and `boxes`
 * (BLAZE_VALUES per anchor, offsets from the anchor centre), kept where the score is at least `minScore`.
 */
export function decodeBlaze(logits: Float32Array, boxes: Float32Array, anchors: Float32Array, minScore: number): FaceBox[] {
  const n = anchors.length / 2;
  if (logits.length !== n || boxes.length !== n * BLAZE_VALUES)
    throw new RangeError(`expected ${n} logits and ${n * BLAZE_VALUES} box values, got ${logits.length} and ${boxes.length}`);
  const out: FaceBox[] = [];
  for (let i = 0; i < n; i++) {
    const score = sigmoid(logits[i]);
    if (!(score >= minScore)) continue;
    const r = boxes.subarray(i * BLAZE_VALUES, (i + 1) * BLAZE_VALUES);
    const ax = anchors[2 * i];
    const ay = anchors[2 * i + 1];
    const w = r[2];
    const h = r[3];
    if (!(w > 0 && h > 0)) continue;
    const landmarks: [number, number][] = KEYPOINTS.map((_, k) => [ax + r[4 + 2 * k], ay + r[5 + 2 * k]]);
    out.push({ x: ax + r[0] - w / 2, y: ay + r[1] - h / 2, w, h, score, landmarks });
  }
  return out;
}

/** A face found in a look at the photo resized by 1/kx, 1/ky, in the photo's pixels. */
export function scaleFace(face: FaceBox, kx: number, ky: number): FaceBox {
  return {
    x: face.x * kx,
    y: face.y * ky,
    w: face.w * kx,
    h: face.h * ky,
    score: face.score,
    landmarks: face.landmarks.map(([x, y]) => [x * kx, y * ky]),
  };
}

/**
 * The looks the detector takes at a `width` x `height` photo: the whole photo with its long side at the model's
 * `inputSize`, then per further level twice as large (each face twice as many pixels to the model), as long as that
 * is no larger than the photo itself. Each look is padded to a multiple of `multiple` (the model's largest stride).
 */
export function faceScales(width: number, height: number, inputSize: number, levels = 2, multiple = 32): FaceScale[] {
  const long = Math.max(width, height);
  const up = (v: number): number => Math.ceil(v / multiple) * multiple;
  const out: FaceScale[] = [];
  for (let level = 0; level < levels; level++) {
    const side = inputSize * 2 ** level;
    if (level > 0 && side > long) break;
    const w = Math.max(1, Math.round((width * side) / long));
    const h = Math.max(1, Math.round((height * side) / long));
    out.push({ width: w, height: h, inputWidth: up(w), inputHeight: up(h) });
  }
  return out;
}

function overlap(a: FaceBox, b: FaceBox): { iou: number; ofSmaller: number } {
  const iw = Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x));
  const ih = Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));
  const inter = iw * ih;
  const aa = a.w * a.h;
  const ba = b.w * b.h;
  return { iou: inter / (aa + ba - inter), ofSmaller: inter / Math.min(aa, ba) };
}

/**
 * Best-first suppression: a face is dropped when it overlaps a better one by `iou`, or lies mostly (`contained`)
 * inside it, as a face found again in part does.
 */
export function suppressFaces(faces: readonly FaceBox[], iou = 0.3, contained = 0.7): FaceBox[] {
  const sorted = [...faces].sort((a, b) => b.score - a.score);
  const kept: FaceBox[] = [];
  for (const f of sorted) {
    if (
      kept.some((k) => {
        const o = overlap(k, f);
        return o.iou > iou || o.ofSmaller > contained;
      })
    )
      continue;
    kept.push(f);
  }
  return kept;
}

/** Intersection over union of two boxes. */
export function boxIou(a: Pick<FaceBox, 'x' | 'y' | 'w' | 'h'>, b: Pick<FaceBox, 'x' | 'y' | 'w' | 'h'>): number {
  return overlap({ ...a, score: 0, landmarks: [] }, { ...b, score: 0, landmarks: [] }).iou;
}
