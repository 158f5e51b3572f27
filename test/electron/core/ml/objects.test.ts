/**
 * Object detection: turning per-class scores into labels, and the bundled centernet_objects detector on a real
 * photo (a table scene from @vladmandic/human's MIT-licensed assets, read from node_modules, never copied here) and
 * on generated images, fed as paths, bytes and as the default encoder's pre-processed tensor.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import {
  DEFAULT_DETECTOR_ID,
  DEFAULT_OBJECT_THRESHOLD,
  ObjectDetector,
  detectObjects,
  loadDetector,
  objectsFromScores,
} from '../../../../electron/core/ml/objects.js';
import { ModelIntegrityError } from '../../../../electron/core/ml/embedder.js';
import { preprocessImage } from '../../../../electron/core/ml/preprocess.js';
import { bundledModelsDir } from '../../../../electron/core/paths.js';
import { findPackageDir } from '../../../../training/convert/encoders.js';
import { readEncoderManifest } from '../../../../training/models.js';
import { requireModel } from '../../../helpers/models.js';

void describe('objectsFromScores', () => {
  const labels = ['person', 'dog', 'pizza'];

  void it('keeps labels at or above the threshold, best first, one entry per label', () => {
    const scores = Float32Array.of(0.31, 0.9, 0.1, 0.2, 0.29, 0.3, 0, 0, 0);
    const out = objectsFromScores(scores, labels);
    assert.equal(DEFAULT_OBJECT_THRESHOLD, 0.3);
    assert.deepEqual(
      out.map((r) => r.map((o) => o.label)),
      [['dog', 'person'], ['pizza'], []],
    );
    assert.ok(Math.abs(out[0][0].score - 0.9) < 1e-6);
    assert.deepEqual(objectsFromScores(scores, labels, 0.95), [[], [], []]);
    assert.equal(objectsFromScores(scores, labels, 0).flat().length, 9);
  });

  void it('orders ties by label and refuses bad input', () => {
    assert.deepEqual(objectsFromScores(Float32Array.of(0.5, 0.5, 0.5), labels)[0].map((o) => o.label), ['dog', 'person', 'pizza']);
    assert.throws(() => objectsFromScores(new Float32Array(4), labels), RangeError);
    assert.throws(() => objectsFromScores(new Float32Array(3), labels, 1.5), RangeError);
    assert.throws(() => objectsFromScores(new Float32Array(3), labels, NaN), RangeError);
  });
});

void describe('centernet_objects detector', () => {
  const manifestPath = path.join(bundledModelsDir(), `${DEFAULT_DETECTOR_ID}.json`);
  let detector: ObjectDetector;
  let dir: string;
  let table: Buffer;
  let flat: string;

  before(async () => {
    requireModel(DEFAULT_DETECTOR_ID);
    detector = await ObjectDetector.open(manifestPath, { device: 'cpu' });
    dir = await mkdtemp(path.join(os.tmpdir(), 'shoebox-objects-'));
    // A man at a restaurant table with a glass, from the thumbnail strip of the package's sample collage.
    const assets = path.join(findPackageDir('@vladmandic/human'), 'assets', 'samples.jpg');
    table = await sharp(assets).extract({ left: 330, top: 0, width: 210, height: 160 }).jpeg({ quality: 95 }).toBuffer();
    flat = path.join(dir, 'flat.png');
    await writeFile(flat, await sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 120, g: 140, b: 160 } } }).png().toBuffer());
  });
  after(async () => {
    await detector.release();
    await rm(dir, { recursive: true, force: true });
  });

  void it('finds the person (and the glass) in a real photo, and nothing in a flat image', async () => {
    const [found, none] = await detector.detectImages([table, flat]);
    assert.equal(found[0]?.label, 'person', JSON.stringify(found));
    assert.ok(found[0].score >= 0.5, `person ${found[0].score}`);
    assert.ok(found.some((o) => o.label === 'cup'), JSON.stringify(found));
    const unlikely = ['dog', 'cat', 'car', 'airplane', 'boat', 'horse', 'elephant', 'train'];
    assert.ok(!found.some((o) => unlikely.includes(o.label)), JSON.stringify(found));
    assert.equal(new Set(found.map((o) => o.label)).size, found.length, 'one entry per label');
    assert.deepEqual(none, []);
  });

  void it("takes the default encoder's pre-processed tensor, and gives the same at batch 1 and batch 8", async () => {
    const encoder = readEncoderManifest(path.join(bundledModelsDir(), 'centernet_mnv3.json'));
    assert.ok(detector.acceptsInputOf(encoder));
    assert.ok(!detector.acceptsInputOf(readEncoderManifest(path.join(bundledModelsDir(), 'mobilenet_v2_mid.json'))));
    const one = await preprocessImage(table, encoder);
    const batch = new Float32Array(8 * detector.imageSize);
    for (let i = 0; i < 8; i++) batch.set(i % 2 ? await preprocessImage(flat, encoder) : one, i * detector.imageSize);
    const single = await detector.scoreTensors(batch, 1);
    const batched = await detector.scoreTensors(batch, 8);
    let diff = 0;
    for (let i = 0; i < single.length; i++) diff = Math.max(diff, Math.abs(single[i] - batched[i]));
    assert.ok(diff < 1e-4, `batch 1 vs 8 differ by ${diff}`);
    const fromTensor = await detectObjects(detector, batch, { batchSize: 8 });
    assert.equal(fromTensor.length, 8);
    assert.deepEqual(fromTensor[0].map((o) => o.label), (await detector.detectImages([table]))[0].map((o) => o.label));
    assert.deepEqual(fromTensor[1], []);
    await assert.rejects(detector.scoreTensors(new Float32Array(5)), RangeError);
  });

  void it('detectObjects opens a manifest path itself; a tampered model is refused', async () => {
    const [r] = await detectObjects(manifestPath, [table], { device: 'cpu', threshold: 0.6 });
    assert.deepEqual(r.map((o) => o.label), ['person']);
    const { manifest, bytes } = await loadDetector(manifestPath);
    assert.equal(manifest.scores.labels.length, 80);
    const bad = bytes.slice();
    bad[bad.length - 1] ^= 1;
    await assert.rejects(ObjectDetector.fromModel(manifest, bad), ModelIntegrityError);
    await assert.rejects(detector.detectImages([path.join(dir, 'missing.jpg')]), (e: unknown) => (e as { code?: string }).code === 'NOT_FOUND');
  });
});
