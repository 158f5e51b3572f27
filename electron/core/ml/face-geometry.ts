/**
 * Face detection geometry, independent of the model runtime: BlazeFace anchors and the decoding of its outputs,
 * the tiles a photo is looked at in (so that a 48 px face in a 1600 px preview is as large to the detector as a
 * close-up), and the suppression of the same face found twice.
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

/** A square region of the image fed to the detector, resized to its input size (parts outside are black). */
export interface FaceTile {
  x: number;
  y: number;
  size: number;
}

export const KEYPOINTS = ['right eye', 'left eye', 'nose', 'mouth', 'right ear', 'left ear'] as const;
/** Values per anchor in BlazeFace's regressor output: centre offset, size, then 6 keypoints. */
export const BLAZE_VALUES = 4 + 2 * KEYPOINTS.length;

/**
 * Anchor centres (x, y pairs, input pixels) of a BlazeFace model: per stride, a grid of cells with `perCell`
 * anchors each at the cell's centre, row by row, strides in order (the order of the model's concatenated outputs).
 */
export function blazeAnchors(inputSize: number, strides: readonly number[], perCell: readonly number[]): Float32Array {
  if (strides.length !== perCell.length) throw new RangeError('strides and perCell differ in length');
  const out: number[] = [];
  strides.forEach((stride, s) => {
    const cells = Math.ceil(inputSize / stride);
    for (let gy = 0; gy < cells; gy++)
      for (let gx = 0; gx < cells; gx++) for (let k = 0; k < perCell[s]; k++) out.push(stride * (gx + 0.5), stride * (gy + 0.5));
  });
  return Float32Array.from(out);
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/**
 * Faces of one detector run, in the tile's input pixels: `logits` (one per anchor, before the sigmoid) and `boxes`
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

/** A face found in `tile` (input of side `inputSize`) in the whole image's pixels. */
export function tileToImage(face: FaceBox, tile: FaceTile, inputSize: number): FaceBox {
  const k = tile.size / inputSize;
  return {
    x: tile.x + face.x * k,
    y: tile.y + face.y * k,
    w: face.w * k,
    h: face.h * k,
    score: face.score,
    landmarks: face.landmarks.map(([x, y]) => [tile.x + x * k, tile.y + y * k]),
  };
}

/**
 * The tiles a `width` x `height` image is looked at in: the whole image (its long side as the square), then per
 * further level squares of half the previous side overlapping by half, so that every face up to half a tile's side
 * lies whole inside some tile of that level, at twice the scale of the level before. A level whose tiles would be
 * smaller than the detector's input is left out (it would only upsample).
 */
export function faceTiles(width: number, height: number, inputSize: number, levels = 2): FaceTile[] {
  const long = Math.max(width, height);
  const tiles: FaceTile[] = [{ x: 0, y: 0, size: long }];
  for (let level = 1; level < levels; level++) {
    const size = Math.round(long / 2 ** level);
    if (size < inputSize) break;
    const step = Math.round(size / 2);
    const starts = (extent: number): number[] => {
      if (extent <= size) return [0];
      const s: number[] = [];
      for (let p = 0; p + size < extent; p += step) s.push(p);
      s.push(extent - size);
      return s;
    };
    for (const y of starts(height)) for (const x of starts(width)) tiles.push({ x, y, size });
  }
  return tiles;
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
 * inside it, as a face cut by a tile's edge does.
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
