import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BLAZE_VALUES,
  blazeAnchors,
  boxIou,
  decodeBlaze,
  faceTiles,
  suppressFaces,
  tileToImage,
  type FaceBox,
} from '../../../electron/core/ml/face-geometry.js';
import { alignFace, FACE_TEMPLATE, faceRoll, fitSimilarity } from '../../../electron/core/ml/face-align.js';
import { Rng } from '../../../training/numeric/rng.js';

const face = (x: number, y: number, w: number, score: number): FaceBox => ({ x, y, w, h: w, score, landmarks: [] });

describe('face geometry', () => {
  test('BlazeFace anchors: cells row by row, anchors per cell at its centre, strides in order', () => {
    const a = blazeAnchors(256, [16, 32], [2, 6]);
    assert.equal(a.length / 2, 16 * 16 * 2 + 8 * 8 * 6);
    assert.deepEqual([...a.subarray(0, 6)], [8, 8, 8, 8, 24, 8]);
    assert.deepEqual([...a.subarray(2 * 32, 2 * 32 + 2)], [8, 24], 'the second row starts after 16 cells of 2');
    assert.deepEqual([...a.subarray(2 * 512, 2 * 512 + 2)], [16, 16], 'the stride-32 grid follows');
    assert.deepEqual([...a.subarray(a.length - 2)], [240, 240]);
  });

  test('decoding: score through the sigmoid, box and keypoints as offsets from the anchor', () => {
    const anchors = Float32Array.from([8, 8, 40, 24, 100, 100]);
    const logits = Float32Array.from([-3, 2, 0.5]);
    const boxes = new Float32Array(3 * BLAZE_VALUES);
    boxes.set([1, -2, 20, 30, -5, -4, 5, -4, 0, 0, 0, 6, -9, -3, 9, -3], BLAZE_VALUES);
    boxes.set([0, 0, -1, 10], 2 * BLAZE_VALUES); // a box without width is no face
    const found = decodeBlaze(logits, boxes, anchors, 0.5);
    assert.equal(found.length, 1);
    const f = found[0];
    assert.ok(Math.abs(f.score - 1 / (1 + Math.exp(-2))) < 1e-6);
    assert.deepEqual([f.x, f.y, f.w, f.h], [41 - 10, 22 - 15, 20, 30]);
    assert.deepEqual(f.landmarks[0], [35, 20]);
    assert.deepEqual(f.landmarks[3], [40, 30]);
    assert.equal(f.landmarks.length, 6);
    assert.equal(decodeBlaze(logits, boxes, anchors, 0.95).length, 0);
    assert.throws(() => decodeBlaze(logits, boxes.subarray(1), anchors, 0.5), /expected 3 logits/);
  });

  test('tiles: the whole image, then half-size squares in which every face up to a quarter of the long side lies whole', () => {
    assert.deepEqual(faceTiles(300, 200, 256), [{ x: 0, y: 0, size: 300 }], 'half of it would be smaller than the input');
    assert.equal(faceTiles(1600, 1200, 256, 1).length, 1);
    assert.equal(faceTiles(1600, 1200, 256, 3).filter((t) => t.size === 400).length, 7 * 5);
    const tiles = faceTiles(1600, 1200, 256);
    assert.deepEqual(tiles[0], { x: 0, y: 0, size: 1600 });
    assert.equal(tiles.length, 1 + 3 * 2);
    assert.ok(tiles.slice(1).every((t) => t.size === 800 && t.x + t.size <= 1600 && t.y + t.size <= 1200));
    const rng = new Rng(3);
    for (const [w, h] of [
      [1600, 1200],
      [1200, 1600],
      [1600, 900],
      [1000, 1000],
    ]) {
      const ts = faceTiles(w, h, 256).slice(1);
      for (let i = 0; i < 500; i++) {
        const s = 10 + rng.next() * (Math.max(w, h) / 4 - 10);
        const x = rng.next() * (w - s);
        const y = rng.next() * (h - s);
        assert.ok(
          ts.some((t) => x >= t.x && y >= t.y && x + s <= t.x + t.size && y + s <= t.y + t.size),
          `${w}x${h}: a ${s.toFixed(0)} px face at ${x.toFixed(0)},${y.toFixed(0)}`,
        );
      }
    }
  });

  test('a face in a tile maps back to the image', () => {
    const f: FaceBox = { x: 64, y: 32, w: 32, h: 32, score: 0.9, landmarks: [[70, 40]] };
    const g = tileToImage(f, { x: 600, y: 400, size: 800 }, 256);
    assert.deepEqual([g.x, g.y, g.w, g.h], [800, 500, 100, 100]);
    assert.deepEqual(g.landmarks[0], [600 + 70 * 3.125, 400 + 40 * 3.125]);
  });

  test('suppression keeps the best of one face found twice, drops a cut-off part inside it, keeps other faces', () => {
    const best = face(100, 100, 80, 0.9);
    const again = face(104, 98, 78, 0.8);
    const part = face(100, 100, 40, 0.95 - 0.2);
    const other = face(300, 100, 60, 0.6);
    const kept = suppressFaces([part, again, other, best]);
    assert.deepEqual(kept, [best, other]);
    assert.ok(boxIou(best, again) > 0.8);
    assert.equal(boxIou(best, other), 0);
  });
});

describe('face alignment', () => {
  test('the least-squares similarity recovers a rotation, scale and shift', () => {
    const from: [number, number][] = [
      [0, 0],
      [10, 0],
      [3, 7],
      [5, 12],
    ];
    const theta = 0.4;
    const k = 1.7;
    const to = from.map(
      ([x, y]) =>
        [k * (Math.cos(theta) * x - Math.sin(theta) * y) + 5, k * (Math.sin(theta) * x + Math.cos(theta) * y) - 3] as [number, number],
    );
    const t = fitSimilarity(from, to);
    assert.ok(Math.abs(t.a - k * Math.cos(theta)) < 1e-9 && Math.abs(t.b - k * Math.sin(theta)) < 1e-9);
    assert.ok(Math.abs(t.tx - 5) < 1e-9 && Math.abs(t.ty + 3) < 1e-9);
    assert.throws(
      () =>
        fitSimilarity(
          [
            [1, 1],
            [1, 1],
          ],
          [
            [0, 0],
            [1, 1],
          ],
        ),
      /coincide/,
    );
  });

  test("an aligned crop puts a tilted face's eyes, nose and mouth where the template has them", () => {
    // A 200x200 photo, black but for a white dot at each landmark of a face rolled by 20 degrees.
    const size = 112;
    const theta = (20 * Math.PI) / 180;
    const place = ([u, v]: readonly [number, number]): [number, number] => {
      const x = (u - 0.5) * 90;
      const y = (v - 0.5) * 90;
      return [100 + Math.cos(theta) * x - Math.sin(theta) * y, 100 + Math.sin(theta) * x + Math.cos(theta) * y];
    };
    const landmarks = FACE_TEMPLATE.map(place);
    const data = new Uint8Array(200 * 200 * 3);
    for (const [x, y] of landmarks)
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++)
          data.fill(255, ((Math.round(y) + dy) * 200 + Math.round(x) + dx) * 3, ((Math.round(y) + dy) * 200 + Math.round(x) + dx) * 3 + 3);
    const face: FaceBox = { x: 50, y: 50, w: 100, h: 100, score: 1, landmarks: [...landmarks, [0, 0], [0, 0]] };
    assert.ok(Math.abs(faceRoll(face) - 20) < 0.5, `roll ${faceRoll(face)}`);
    const crop = alignFace({ data, width: 200, height: 200 }, face, size);
    for (const [u, v] of FACE_TEMPLATE) {
      const x = Math.round(u * size - 0.5);
      const y = Math.round(v * size - 0.5);
      assert.ok(crop[(y * size + x) * 3] > 100, `bright at the template's ${u.toFixed(2)},${v.toFixed(2)}`);
    }
    assert.equal(crop[(5 * size + 5) * 3], 0, 'dark elsewhere');
  });
});
