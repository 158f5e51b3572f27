/**
 * The optional centernet_mnv3 encoder against its tfjs original (global-average-pooled cut), at a reduced input
 * size to keep the tfjs reference fast (the backbone is fully convolutional), plus conversion determinism.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { CENTERNET_MNV3, convertEncoder, loadSourceModel, readPackageInfo } from '../../../training/convert/encoders.js';
import { cosine, makeImages, relMaxDiff, runOnnx, runTfjs, tfjsModel } from './helpers.js';

void describe('centernet_mnv3', () => {
  void it('converted ONNX matches the pooled tfjs cut (cosine >= 0.9999) and converts deterministically', async (t) => {
    const spec = { ...CENTERNET_MNV3, inputSize: 128 };
    const pkg = readPackageInfo(spec.package);
    const source = await loadSourceModel(spec, pkg);
    const { manifest, onnx } = convertEncoder(spec, source, pkg);
    assert.equal(convertEncoder(spec, source, pkg).manifest.sha256, manifest.sha256, 'same input must give the same bytes');

    const n = 3;
    const [lo, hi] = manifest.preprocess.range;
    const x = makeImages(n, 128, 128, hi - lo, 7).map((v) => v + lo);
    const shape = [n, 128, 128, 3];
    const ours = (await runOnnx(onnx, { [manifest.input.name]: { data: x, shape } }))[manifest.output.name];
    const fmap = await runTfjs(await tfjsModel(source, true), x, shape, spec.cutAt);

    const [, fh, fw, c] = fmap.shape;
    assert.equal(c, manifest.output.dim);
    assert.deepEqual([...ours.dims], [n, c]);
    const pooled = new Float32Array(n * c);
    for (let b = 0; b < n; b++)
      for (let p = 0; p < fh * fw; p++) for (let k = 0; k < c; k++) pooled[b * c + k] += fmap.data[(b * fh * fw + p) * c + k] / (fh * fw);
    for (let i = 0; i < n; i++) {
      const a = ours.data.subarray(i * c, (i + 1) * c);
      const b = pooled.subarray(i * c, (i + 1) * c);
      const cos = cosine(a, b);
      t.diagnostic(`image ${i}: cosine ${cos.toFixed(9)} (1 - cos = ${(1 - cos).toExponential(1)}), max rel diff ${relMaxDiff(a, b).toExponential(2)}`);
      assert.ok(cos >= 0.9999, `image ${i}: cosine ${cos}`);
    }
  });
});
