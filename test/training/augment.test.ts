import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { augmentView, randomCrop } from '../../training/augment.js';

function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

test('random crops stay inside the image with area and aspect in range', () => {
  const r = lcg(3);
  for (let i = 0; i < 500; i++) {
    const c = randomCrop(341, 256, [0.25, 1], [3 / 4, 4 / 3], r);
    assert.ok(c.left >= 0 && c.top >= 0 && c.left + c.width <= 341 && c.top + c.height <= 256, JSON.stringify(c));
    const frac = (c.width * c.height) / (341 * 256);
    assert.ok(frac > 0.2 && frac <= 1.01, `area ${frac}`);
  }
  // impossible ratio: falls back to a centred crop within the range
  const c = randomCrop(1000, 10, [0.99, 1], [1, 1], () => 0.5);
  assert.deepEqual([c.width, c.height], [10, 10]);
  assert.equal(c.left, 495);
});

test('views have the encoder size, are deterministic per seed, differ across seeds, and honour grayscale and flip', async () => {
  const w = 64;
  const h = 48;
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set([x * 4, 255 - y * 5, (x * y) % 256], 3 * (y * w + x));
  const img = await sharp(raw, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toBuffer();
  const size = { width: 32, height: 32 };
  const a = await augmentView(img, w, h, size, lcg(1));
  const b = await augmentView(img, w, h, size, lcg(1));
  const c = await augmentView(img, w, h, size, lcg(2));
  assert.equal(a.length, 32 * 32 * 3);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const gray = await augmentView(img, w, h, { ...size, grayscaleP: 1 }, lcg(5));
  for (let i = 0; i < gray.length; i += 3) assert.ok(gray[i] === gray[i + 1] && gray[i + 1] === gray[i + 2]);
  const plain = {
    ...size,
    scale: [1, 1] as [number, number],
    ratio: [w / h, w / h] as [number, number],
    jitterP: 0,
    blurP: 0,
    grayscaleP: 0,
  };
  const noFlip = await augmentView(img, w, h, { ...plain, flipP: 0 }, lcg(9));
  const flip = await augmentView(img, w, h, { ...plain, flipP: 1 }, lcg(9));
  // mirrored rows: pixel (x, y) of one equals pixel (31 - x, y) of the other
  for (const [x, y] of [
    [0, 0],
    [5, 10],
    [31, 31],
  ]) {
    const p = 3 * (y * 32 + x);
    const q = 3 * (y * 32 + (31 - x));
    assert.deepEqual([...noFlip.subarray(p, p + 3)], [...flip.subarray(q, q + 3)]);
  }
});
