/**
 * The dual encoder (issue #19, part 1): one graph running both bundled backbones must give the first backbone's
 * embedding unchanged, and as training features the two backbones' features, each at unit length, the second one
 * computed on the input resized by a bilinear, centre-aligned resize (written out here independently of ONNX).
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { buildEncoder, CENTERNET_MNV3, MOBILENET_V2_MID } from '../../../training/convert/encoders.js';
import { DUAL_MNV3_MNV2, mergeDual, prefixGraph } from '../../../training/convert/dual.js';
import { validateManifest } from '../../../training/manifest.js';
import { decodeModel, encodeModel } from '../../../training/onnx/proto.js';
import { TRAIN_FEATURES, trainFeaturesModel } from '../../../training/train/features.js';
import { cosine, makeImages, runOnnx } from './helpers.js';

/** NHWC bilinear resize with half-pixel centres, source coordinates clamped to the image (ONNX Resize 'linear'). */
function resizeBilinear(x: Float32Array, n: number, h: number, w: number, oh: number, ow: number): Float32Array {
  const out = new Float32Array(n * oh * ow * 3);
  const src = (o: number, size: number, scale: number): [number, number, number] => {
    const s = Math.min(Math.max((o + 0.5) / scale - 0.5, 0), size - 1);
    const i0 = Math.floor(s);
    return [i0, Math.min(i0 + 1, size - 1), s - i0];
  };
  for (let b = 0; b < n; b++)
    for (let y = 0; y < oh; y++) {
      const [y0, y1, fy] = src(y, h, oh / h);
      for (let xx = 0; xx < ow; xx++) {
        const [x0, x1, fx] = src(xx, w, ow / w);
        for (let c = 0; c < 3; c++) {
          const at = (yy: number, xi: number): number => x[((b * h + yy) * w + xi) * 3 + c];
          const top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx;
          const bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx;
          out[((b * oh + y) * ow + xx) * 3 + c] = top * (1 - fy) + bottom * fy;
        }
      }
    }
  return out;
}

function norm(v: Float32Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s);
}

void describe('dual encoder', () => {
  void it('keeps the first backbone embedding and concatenates both backbones features at unit length', async (t) => {
    const first = await buildEncoder(CENTERNET_MNV3);
    const second = await buildEncoder(MOBILENET_V2_MID);
    const dual = mergeDual(first, second, DUAL_MNV3_MNV2);
    const m = validateManifest(dual.manifest);
    const d1 = first.manifest.trainFeatures!.dim;
    const d2 = second.manifest.output.dim;
    assert.equal(m.trainFeatures?.dim, d1 + d2);
    assert.deepEqual(m.input, first.manifest.input);
    assert.deepEqual(
      m.source.parts?.map((p) => [p.id, p.sha256]),
      [
        [first.manifest.id, first.manifest.sha256],
        [second.manifest.id, second.manifest.sha256],
      ],
    );

    const n = 2;
    const { width: w, height: h } = m.input;
    const x = makeImages(n, h, w, 255, 7);
    const feed = { [m.input.name]: { data: x, shape: [n, h, w, 3] } };
    const withFeatures = encodeModel(trainFeaturesModel(decodeModel(dual.onnx), m.trainFeatures!));
    const ours = await runOnnx(withFeatures, feed);
    const refFirst = await runOnnx(encodeModel(trainFeaturesModel(decodeModel(first.onnx), first.manifest.trainFeatures!)), feed);

    // The embedding is the first backbone's, bit for bit.
    assert.deepEqual([...ours.embedding.data], [...refFirst.embedding.data]);

    const resized = resizeBilinear(x, n, h, w, second.manifest.input.height, second.manifest.input.width).map((v) => v / 255);
    const refSecond = (
      await runOnnx(second.onnx, { input: { data: resized, shape: [n, second.manifest.input.height, second.manifest.input.width, 3] } })
    ).embedding;
    const f = ours[TRAIN_FEATURES];
    assert.deepEqual([...f.dims], [n, d1 + d2]);
    for (let i = 0; i < n; i++) {
      const row = f.data.subarray(i * (d1 + d2), (i + 1) * (d1 + d2));
      const a = row.subarray(0, d1);
      const b = row.subarray(d1);
      assert.ok(Math.abs(norm(a) - 1) < 1e-5 && Math.abs(norm(b) - 1) < 1e-5, `image ${i}: part norms ${norm(a)}, ${norm(b)}`);
      const ca = cosine(a, refFirst[TRAIN_FEATURES].data.subarray(i * d1, (i + 1) * d1));
      const cb = cosine(b, refSecond.data.subarray(i * d2, (i + 1) * d2));
      t.diagnostic(
        `image ${i}: cosine to the first backbone's features ${ca.toFixed(7)}, to the second's on the resized image ${cb.toFixed(7)}`,
      );
      assert.ok(ca > 0.99999, `first part, image ${i}: cosine ${ca}`);
      assert.ok(cb > 0.9999, `second part, image ${i}: cosine ${cb}`);
    }
    // Different images give different second-backbone features (guards against a constant branch).
    assert.ok(cosine(f.data.subarray(d1, d1 + d2), f.data.subarray(d1 + d2 + d1)) < 0.999);
  });

  void it('prefixes every name of a graph; the first backbone must name training features', async () => {
    const second = await buildEncoder(MOBILENET_V2_MID);
    const g = prefixGraph(decodeModel(second.onnx).graph, 'p/');
    const names = [...g.nodes.flatMap((nd) => [...nd.inputs, ...nd.outputs]), ...g.initializers.map((i) => i.name)].filter(Boolean);
    assert.ok(names.length > 100 && names.every((s) => s.startsWith('p/')));
    const first = await buildEncoder(CENTERNET_MNV3);
    assert.throws(() => mergeDual(second, first, DUAL_MNV3_MNV2), /names no training features/);
  });
});
