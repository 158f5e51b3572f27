import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BLAZE_VALUES,
  blazeAnchors,
  boxIou,
  decodeBlaze,
  faceScales,
  scaleFace,
  suppressFaces,
  type FaceBox,
} from '../../../electron/core/ml/face-geometry.js';
import { alignFace, FACE_TEMPLATE, faceRoll, fitSimilarity } from '../../../electron/core/ml/face-align.js';
import { Rng } from '../../../training/numeric/rng.js';

const face = (x: number, y: number, w: number, score: number): FaceBox => ({ x, y, w, h: w, score, landmarks: [] });

describe('face geometry', () => {
  test('BlazeFace anchors: cells row by row, anchors per cell at its centre, strides in order', () => {
    const a = blazeAnchors(256, 256, [16, 32], [2, 6]);
    assert.equal(a.length / 2, 16 * 16 * 2 + 8 * 8 * 6);
    assert.deepEqual([...a.subarray(0, 6)], [8, 8, 8, 8, 24, 8]);
    assert.deepEqual([...a.subarray(2 * 32, 2 * 32 + 2)], [8, 24], 'the second row starts after 16 cells of 2');
    assert.deepEqual([...a.subarray(2 * 512, 2 * 512 + 2)], [16, 16], 'the stride-32 grid follows');
    assert.deepEqual([...a.subarray(a.length - 2)], [240, 240]);
    const wide = blazeAnchors(512, 384, [16, 32], [2, 6]);
    assert.equal(wide.length / 2, 32 * 24 * 2 + 16 * 12 * 6, 'a wider input has more cells per row, a taller more rows');
    assert.deepEqual([...wide.subarray(2 * 64, 2 * 64 + 2)], [8, 24], 'a row of 32 cells of 2');
    assert.deepEqual([...wide.subarray(wide.length - 2)], [496, 368]);
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

  test('scales: the whole photo at the input size, then twice as large while no larger than the photo, padded to the stride', () => {
    assert.deepEqual(faceScales(1024, 768, 256), [
      { width: 256, height: 192, inputWidth: 256, inputHeight: 192 },
      { width: 512, height: 384, inputWidth: 512, inputHeight: 384 },
    ]);
    assert.deepEqual(faceScales(300, 200, 256), [{ width: 256, height: 171, inputWidth: 256, inputHeight: 192 }], 'a small photo: once');
    assert.equal(faceScales(1024, 683, 256, 1).length, 1);
    const three = faceScales(683, 1024, 256, 3);
    assert.deepEqual(
      three.map((s) => [s.width, s.height, s.inputWidth, s.inputHeight]),
      [
        [171, 256, 192, 256],
        [342, 512, 352, 512],
        [683, 1024, 704, 1024],
      ],
    );
    for (const s of three) assert.ok(s.inputWidth % 32 === 0 && s.inputHeight % 32 === 0 && s.inputWidth - s.width < 32);
  });

  test('a face found in a smaller look maps back to the photo', () => {
    const f: FaceBox = { x: 64, y: 32, w: 32, h: 30, score: 0.9, landmarks: [[70, 40]] };
    const g = scaleFace(f, 2, 1.5);
    assert.deepEqual([g.x, g.y, g.w, g.h, g.score], [128, 48, 64, 45, 0.9]);
    assert.deepEqual(g.landmarks[0], [140, 60]);
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

  test('an aligned crop equals plain bilinear sampling, black past the photo edge', () => {
    const rng = new Rng(9);
    const [w, h] = [90, 70];
    const data = Uint8Array.from({ length: w * h * 3 }, () => rng.int(256));
    // A face whose template reaches past the left and top edges, rolled a little.
    const landmarks: [number, number][] = [
      [4, 6],
      [30, 9],
      [16, 24],
      [15, 38],
    ];
    const face: FaceBox = { x: -5, y: -5, w: 40, h: 50, score: 1, landmarks: [...landmarks, [0, 0], [0, 0]] };
    const size = 48;
    const crop = alignFace({ data, width: w, height: h }, face, size);
    const { a, b, tx, ty } = fitSimilarity(
      FACE_TEMPLATE.map(([u, v]) => [u * size, v * size] as [number, number]),
      landmarks,
    );
    const at = (x: number, y: number, c: number): number => (x >= 0 && y >= 0 && x < w && y < h ? data[(y * w + x) * 3 + c] : 0);
    let outside = 0;
    for (let v = 0; v < size; v++)
      for (let u = 0; u < size; u++) {
        const x = a * (u + 0.5) - b * (v + 0.5) + tx - 0.5;
        const y = b * (u + 0.5) + a * (v + 0.5) + ty - 0.5;
        const [x0, y0] = [Math.floor(x), Math.floor(y)];
        const [fx, fy] = [x - x0, y - y0];
        if (x < -1 || y < -1) outside++;
        for (let c = 0; c < 3; c++) {
          const want =
            (1 - fx) * (1 - fy) * at(x0, y0, c) +
            fx * (1 - fy) * at(x0 + 1, y0, c) +
            (1 - fx) * fy * at(x0, y0 + 1, c) +
            fx * fy * at(x0 + 1, y0 + 1, c);
          assert.equal(crop[(v * size + u) * 3 + c], Math.round(want), `pixel ${u},${v} channel ${c}`);
        }
      }
    assert.ok(outside > 0, 'part of the crop lies past the edge');
  });
});
