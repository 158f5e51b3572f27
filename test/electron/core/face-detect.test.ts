import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { DEFAULT_FACE_DETECTOR_ID, FaceDetector } from '../../../electron/core/ml/face-detect.js';
import type { RgbImage } from '../../../electron/core/ml/preprocess.js';
import { bundledModelsDir } from '../../../electron/core/paths.js';
import { findPackageDir } from '../../../training/convert/encoders.js';
import { Rng } from '../../../training/numeric/rng.js';
import { requireModel } from '../../helpers/models.js';

/** The sample collage's photo of a man at a table (one face, looking at the camera). */
const PORTRAIT = { left: 330, top: 0, width: 206, height: 156 };

async function rgb(img: ReturnType<typeof sharp>): Promise<RgbImage> {
  const { data, info } = await img.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

describe('face detector', () => {
  let detector: FaceDetector;
  let collage: string;
  before(async () => {
    requireModel(DEFAULT_FACE_DETECTOR_ID);
    collage = path.join(findPackageDir('@vladmandic/human'), 'assets', 'samples.jpg');
    detector = await FaceDetector.open(path.join(bundledModelsDir(), `${DEFAULT_FACE_DETECTOR_ID}.json`), { device: 'cpu' });
  });
  after(async () => detector && (await detector.release()));

  test('finds the one face of a portrait, with eyes, nose and mouth where a face has them; mirrored, the mirror', async () => {
    const img = await rgb(sharp(collage).extract(PORTRAIT).resize(412, 312));
    const [face, ...rest] = await detector.detect(img);
    assert.equal(rest.length, 0);
    assert.ok(face.score > 0.9, `score ${face.score}`);
    assert.ok(face.w > 40 && face.w < 120 && face.x > 150 && face.x < 260, `box ${face.x},${face.y} ${face.w}`);
    const [rightEye, leftEye, nose, mouth] = face.landmarks;
    assert.ok(rightEye[0] < leftEye[0], "the subject's right eye is on the image's left");
    assert.ok(Math.max(rightEye[1], leftEye[1]) < nose[1] && nose[1] < mouth[1], 'eyes above the nose above the mouth');
    for (const [x, y] of face.landmarks)
      assert.ok(x >= face.x - 10 && x <= face.x + face.w + 10 && y >= face.y - 10 && y <= face.y + face.h + 10);

    const mirrored = await detector.detect(await rgb(sharp(collage).extract(PORTRAIT).resize(412, 312).flop()));
    assert.equal(mirrored.length, 1);
    assert.ok(Math.abs(412 - (mirrored[0].x + mirrored[0].w) - face.x) < 6, 'the box mirrors');
  });

  test('a small face in a large photo is found by the larger look, not by the whole view; a photo without faces has none', async () => {
    const face = await sharp(collage).extract({ left: 412, top: 22, width: 60, height: 60 }).resize(44, 44).png().toBuffer();
    // A textured background (blurred noise), as a real scene is, with the face at (700, 420).
    const rng = new Rng(5);
    const noise = Buffer.from(Uint8Array.from({ length: 1024 * 768 * 3 }, () => 60 + rng.int(120)));
    const scene = await sharp(noise, { raw: { width: 1024, height: 768, channels: 3 } })
      .blur(3)
      .png()
      .toBuffer();
    const img = await rgb(sharp(scene).composite([{ input: face, left: 700, top: 420 }]));
    const whole = await detector.detect(img, { levels: 1 });
    const larger = await detector.detect(img, { levels: 2 });
    assert.equal(whole.length, 0, 'a 44 px face is 11 px to the detector in the whole view');
    assert.equal(larger.length, 1);
    assert.ok(
      Math.abs(larger[0].x + larger[0].w / 2 - 722) < 10 && Math.abs(larger[0].y + larger[0].h / 2 - 442) < 12,
      `at ${larger[0].x},${larger[0].y}`,
    );
    const empty = await rgb(sharp({ create: { width: 800, height: 600, channels: 3, background: { r: 200, g: 180, b: 160 } } }));
    assert.deepEqual(await detector.detect(empty), []);
  });
});
