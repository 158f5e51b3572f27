/**
 * The default encoder: nsfwjs' mobilenet_v2_mid converted to ONNX must reproduce the original tfjs graph
 * (run with tfjs on the CPU up to the same cut node) on generated images.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { convertEncoder, loadSourceModel, MOBILENET_V2_MID, readPackageInfo, sha256Hex } from '../../../training/convert/encoders.js';
import { cosine, makeImages, relMaxDiff, runOnnx, runTfjs, tfjsModel } from './helpers.js';

void describe('mobilenet_v2_mid', () => {
  void it('converted ONNX matches tfjs at feature_vector/SpatialSqueeze (cosine >= 0.9999 per image)', async (t) => {
    const spec = MOBILENET_V2_MID;
    const pkg = readPackageInfo(spec.package);
    const source = await loadSourceModel(spec, pkg);
    const { manifest, onnx } = convertEncoder(spec, source, pkg);

    assert.equal(manifest.sha256, sha256Hex(onnx));
    assert.equal(manifest.source.version, pkg.version);
    assert.equal(manifest.input.layout, 'NHWC');

    // Two images (noise, smooth structure) in the manifest's input range, fed as NHWC like the embedder does.
    const n = 2;
    const { width: w, height: h } = manifest.input;
    const [lo, hi] = manifest.preprocess.range;
    const x = makeImages(n, h, w, hi - lo, 42).map((v) => v + lo);
    const shape = [n, h, w, 3];

    const ours = (await runOnnx(onnx, { [manifest.input.name]: { data: x, shape } }))[manifest.output.name];
    const ref = await runTfjs(await tfjsModel(source), x, shape, spec.cutAt);

    assert.deepEqual([...ours.dims], [n, manifest.output.dim]);
    assert.deepEqual(ref.shape, [n, manifest.output.dim]);
    const d = manifest.output.dim;
    for (let i = 0; i < n; i++) {
      const a = ours.data.subarray(i * d, (i + 1) * d);
      const b = ref.data.subarray(i * d, (i + 1) * d);
      const cos = cosine(a, b);
      t.diagnostic(`image ${i}: cosine ${cos.toFixed(9)} (1 - cos = ${(1 - cos).toExponential(1)}), max rel diff ${relMaxDiff(a, b).toExponential(2)}`);
      assert.ok(cos >= 0.9999, `image ${i}: cosine ${cos}`);
    }
    // Different images must give clearly different embeddings (guards against a constant output).
    assert.ok(cosine(ours.data.subarray(0, d), ours.data.subarray(d, 2 * d)) < 0.99);
  });
});
