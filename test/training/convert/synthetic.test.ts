/**
 * Small synthetic tfjs graphs converted to ONNX and compared numerically against tfjs (CPU) and, for a plain
 * strided convolution, against a naive JS convolution written here.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { encodeModel } from '../../../training/onnx/proto.js';
import { convertGraphModel, UnsupportedOpsError, ConversionError } from '../../../training/convert/tfjs.js';
import { attr, GraphBuilder, randomArray, relMaxDiff, runOnnx, runTfjs, tfjsModel } from './helpers.js';

const conv = (strides: number, padding: string, extra: Record<string, ReturnType<typeof attr.s>> = {}) => ({
  strides: attr.ints([1, strides, strides, 1]),
  padding: attr.s(padding),
  data_format: attr.s('NHWC'),
  dilations: attr.ints([1, 1, 1, 1]),
  ...extra,
});
const fused = (ops: string[], numArgs: number) => ({ fused_ops: attr.strs(ops), num_args: attr.i(numArgs) });

/** Convert `g` cut at `output`, run ONNX and tfjs on the same random batch, return both results. */
async function compare(g: GraphBuilder, output: string, inShape: number[], opts: { pool?: 'global-avg'; seed?: number } = {}) {
  const model = g.build();
  const { model: ir, outputShape } = convertGraphModel(model, { outputNode: output, pool: opts.pool, outputName: 'y' });
  const x = randomArray(inShape.reduce((a, b) => a * b, 1), opts.seed ?? 7);
  const onnx = (await runOnnx(encodeModel(ir), { input: { data: x, shape: inShape } })).y;
  const ref = await runTfjs(await tfjsModel(model), x, inShape, output);
  return { onnx, ref, outputShape };
}

/** Naive NHWC conv2d with explicit pads: the definition, written independently of both runtimes. */
function naiveConv(x: Float32Array, [n, h, w, c]: number[], f: Float32Array, [kh, kw, , co]: number[], s: number, pads: [number, number, number, number]) {
  const [pt, pb, pl, pr] = pads;
  const oh = Math.floor((h + pt + pb - kh) / s) + 1;
  const ow = Math.floor((w + pl + pr - kw) / s) + 1;
  const out = new Float32Array(n * oh * ow * co);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let o = 0; o < co; o++) {
          let acc = 0;
          for (let ky = 0; ky < kh; ky++)
            for (let kx = 0; kx < kw; kx++) {
              const iy = oy * s + ky - pt;
              const ix = ox * s + kx - pl;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              for (let i = 0; i < c; i++) acc += x[((b * h + iy) * w + ix) * c + i] * f[((ky * kw + kx) * c + i) * co + o];
            }
          out[((b * oh + oy) * ow + ox) * co + o] = acc;
        }
  return { out, shape: [n, oh, ow, co] };
}

void describe('synthetic graphs', () => {
  void it('Conv2D stride 2 SAME on odd sizes matches a naive convolution', async () => {
    const inShape = [2, 9, 8, 3];
    const fShape = [3, 3, 3, 4];
    const filter = randomArray(3 * 3 * 3 * 4, 11);
    const g = new GraphBuilder();
    g.placeholder('x', [-1, 9, 8, 3]);
    g.constant('w', fShape, filter);
    g.node('conv', 'Conv2D', ['x', 'w'], conv(2, 'SAME'));
    const model = g.build();
    const { model: ir, outputShape } = convertGraphModel(model, { outputNode: 'conv', outputName: 'y' });
    const x = randomArray(2 * 9 * 8 * 3, 3);
    const y = (await runOnnx(encodeModel(ir), { input: { data: x, shape: inShape } })).y;
    // TF 'SAME', stated from its definition: ceil(in/s) outputs, the odd padding element goes at the end.
    const same = (n: number, k: number, st: number): [number, number] => {
      const total = Math.max((Math.ceil(n / st) - 1) * st + k - n, 0);
      return [Math.floor(total / 2), total - Math.floor(total / 2)];
    };
    const ref = naiveConv(x, inShape, filter, fShape, 2, [...same(9, 3, 2), ...same(8, 3, 2)]);
    assert.deepEqual([...y.dims], ref.shape);
    assert.deepEqual(outputShape, ['batch', ...ref.shape.slice(1)]);
    assert.ok(relMaxDiff(y.data, ref.out) < 1e-5, `max diff ${relMaxDiff(y.data, ref.out)}`);
  });

  void it('MobileNet-style block: quantized/float16 weights, depthwise multiplier, fused ops, SE, pools, matmul', async () => {
    const g = new GraphBuilder();
    g.placeholder('x', [-1, 13, 11, 3]);
    g.constant('two', [], [2]);
    g.constant('one', [], [1]);
    g.node('scaled', 'Mul', ['two', 'x']);
    g.node('centered', 'Sub', ['scaled', 'one']);
    g.constant('w1', [3, 3, 3, 8], randomArray(216, 1), 'uint8');
    g.node('c1', 'Conv2D', ['centered', 'w1'], conv(2, 'SAME'));
    g.constant('w2', [1, 1, 8, 8], randomArray(64, 2));
    g.constant('b2', [8], randomArray(8, 3));
    g.node('c2', '_FusedConv2D', ['c1', 'w2', 'b2'], { ...conv(1, 'SAME'), ...fused(['BiasAdd', 'Relu6'], 1) });
    g.constant('dw1', [3, 3, 8, 2], randomArray(144, 4), 'float16');
    g.node('d1', 'DepthwiseConv2dNative', ['c2', 'dw1'], conv(2, 'SAME'));
    g.constant('dw2', [5, 5, 16, 1], randomArray(400, 5, -0.3, 0.3));
    g.constant('db2', [16], randomArray(16, 6));
    g.node('d2', 'FusedDepthwiseConv2dNative', ['d1', 'dw2', 'db2'], { ...conv(1, 'SAME'), ...fused(['BiasAdd', 'Relu'], 1) });
    // squeeze-excite with a hard sigmoid
    g.constant('axes12', [2], [1, 2], 'int32');
    g.node('se_mean', 'Mean', ['d2', 'axes12'], { keep_dims: attr.b(true) });
    g.constant('sw1', [1, 1, 16, 4], randomArray(64, 7));
    g.constant('sb1', [4], randomArray(4, 8));
    g.node('se1', '_FusedConv2D', ['se_mean', 'sw1', 'sb1'], { ...conv(1, 'SAME'), ...fused(['BiasAdd', 'Relu'], 1) });
    g.constant('sw2', [1, 1, 4, 16], randomArray(64, 9));
    g.node('se2', 'Conv2D', ['se1', 'sw2'], conv(1, 'SAME'));
    g.constant('three', [], [3]);
    g.node('se_add', 'AddV2', ['se2', 'three']);
    g.node('se_relu6', 'Relu6', ['se_add']);
    g.constant('sixth', [], [1 / 6]);
    g.node('se_gate', 'Mul', ['sixth', 'se_relu6']);
    g.node('se_out', 'Mul', ['se_gate', 'd2']);
    g.constant('chscale', [16], randomArray(16, 10, 0.5, 1.5));
    g.node('scaled_ch', 'Mul', ['d1', 'chscale']);
    g.node('res', 'AddV2', ['se_out', 'scaled_ch']);
    g.node('ap', 'AvgPool', ['res'], { ksize: attr.ints([1, 3, 3, 1]), strides: attr.ints([1, 2, 2, 1]), padding: attr.s('SAME'), data_format: attr.s('NHWC') });
    g.node('mp', 'MaxPool', ['ap'], { ksize: attr.ints([1, 2, 2, 1]), strides: attr.ints([1, 1, 1, 1]), padding: attr.s('VALID'), data_format: attr.s('NHWC') });
    g.node('gap', 'Mean', ['mp', 'axes12'], { keep_dims: attr.b(false) });
    g.constant('fw', [16, 5], randomArray(80, 12));
    g.constant('fb', [5], randomArray(5, 13));
    g.node('logits', '_FusedMatMul', ['gap', 'fw', 'fb'], { transpose_a: attr.b(false), transpose_b: attr.b(false), ...fused(['BiasAdd', 'Relu'], 1) });

    const inShape = [3, 13, 11, 3];
    for (const cut of ['d1', 'res', 'mp', 'logits']) {
      const { onnx, ref, outputShape } = await compare(g, cut, inShape);
      assert.deepEqual([...onnx.dims], ref.shape, `${cut}: shape`);
      assert.deepEqual(outputShape.slice(1), ref.shape.slice(1), `${cut}: declared output shape`);
      const d = relMaxDiff(onnx.data, ref.data);
      assert.ok(d < 1e-4, `${cut}: max rel diff ${d}`);
    }
  });

  void it('pads, dilation, concat, prelu, squeeze, transposed matmul and assorted activations', async () => {
    const g = new GraphBuilder();
    g.placeholder('x', [-1, 10, 12, 4]);
    g.constant('pads', [4, 2], [0, 0, 1, 2, 2, 1, 0, 0], 'int32');
    g.node('padded', 'Pad', ['x', 'pads']);
    g.constant('w1', [3, 3, 4, 6], randomArray(216, 21));
    g.node('valid', 'Conv2D', ['padded', 'w1'], conv(1, 'VALID'));
    g.constant('w2', [3, 3, 6, 6], randomArray(324, 22, -0.3, 0.3));
    g.node('dilated', 'Conv2D', ['valid', 'w2'], { ...conv(1, 'SAME'), dilations: attr.ints([1, 2, 2, 1]) });
    g.constant('w3', [1, 1, 6, 6], randomArray(36, 23));
    g.constant('b3', [6], randomArray(6, 24));
    g.constant('alpha', [6], randomArray(6, 25, 0, 0.5));
    g.node('prelu', '_FusedConv2D', ['dilated', 'w3', 'b3', 'alpha'], { ...conv(1, 'SAME'), ...fused(['BiasAdd', 'Prelu'], 2) });
    g.node('sig', 'Sigmoid', ['valid']);
    g.node('leaky', 'LeakyRelu', ['prelu'], { alpha: attr.f(0.1) });
    g.constant('axis3', [], [3], 'int32');
    g.node('cat', 'ConcatV2', ['sig', 'leaky', 'axis3'], { N: attr.i(2) });
    g.node('th', 'Tanh', ['cat']);
    g.node('gp', 'AvgPool', ['th'], { ksize: attr.ints([1, 11, 13, 1]), strides: attr.ints([1, 1, 1, 1]), padding: attr.s('VALID'), data_format: attr.s('NHWC') });
    g.node('sq', 'Squeeze', ['gp'], { squeeze_dims: attr.ints([1, 2]) });
    g.constant('fw', [3, 12], randomArray(36, 26));
    g.node('mm', 'MatMul', ['sq', 'fw'], { transpose_a: attr.b(false), transpose_b: attr.b(true) });
    g.node('elu', 'Elu', ['mm']);

    const inShape = [2, 10, 12, 4];
    for (const cut of ['dilated', 'cat', 'sq', 'elu']) {
      const { onnx, ref } = await compare(g, cut, inShape);
      assert.deepEqual([...onnx.dims], ref.shape, `${cut}: shape`);
      const d = relMaxDiff(onnx.data, ref.data);
      assert.ok(d < 1e-4, `${cut}: max rel diff ${d}`);
    }
  });

  void it('global-avg pooling after the cut equals the mean of the reference feature map', async () => {
    const g = new GraphBuilder();
    g.placeholder('x', [-1, 7, 7, 3]);
    g.constant('w', [3, 3, 3, 5], randomArray(135, 31));
    g.node('c', 'Conv2D', ['x', 'w'], conv(2, 'SAME'));
    const { onnx, ref } = await compare(g, 'c', [2, 7, 7, 3], { pool: 'global-avg' });
    assert.deepEqual([...onnx.dims], [2, 5]);
    const [n, h, w, c] = ref.shape;
    const mean = new Float32Array(n * c);
    for (let b = 0; b < n; b++)
      for (let i = 0; i < h * w; i++) for (let k = 0; k < c; k++) mean[b * c + k] += ref.data[(b * h * w + i) * c + k] / (h * w);
    assert.ok(relMaxDiff(onnx.data, mean) < 1e-5);
  });

  void it('constant subgraphs are folded away', () => {
    const g = new GraphBuilder();
    g.placeholder('x', [-1, 4, 4, 2]);
    g.constant('a', [2], [1, 2]);
    g.constant('b', [2], [3, 4]);
    g.node('ab', 'Mul', ['a', 'b']);
    g.node('abr', 'Relu6', ['ab']);
    g.node('y', 'AddV2', ['x', 'abr']);
    const { model } = convertGraphModel(g.build(), { outputNode: 'y' });
    assert.deepEqual(
      model.graph.nodes.map((n) => n.opType),
      ['Add'],
    );
    const init = model.graph.initializers.find((t) => t.name === model.graph.nodes[0].inputs[1]);
    assert.ok(init?.data instanceof Float32Array);
    assert.deepEqual(Array.from(init.data), [3, 6]);
  });

  void it('rejects every unsupported op in the cut subgraph at once, naming them', () => {
    const g = new GraphBuilder();
    g.placeholder('x', [-1, 4, 4, 2]);
    g.node('a', 'Cos', ['x']);
    g.node('b', 'Sin', ['a']);
    g.node('c', 'Relu', ['b']);
    g.node('unused', 'Atan2', ['x', 'x']);
    assert.throws(
      () => convertGraphModel(g.build(), { outputNode: 'c' }),
      (e: unknown) => {
        assert.ok(e instanceof UnsupportedOpsError);
        assert.deepEqual(e.ops.map((o) => o.op).sort(), ['Cos', 'Sin']);
        assert.match(e.message, /Cos \(1x, e\.g\. a\)/);
        assert.match(e.message, /Sin \(1x, e\.g\. b\)/);
        return true;
      },
    );
  });

  void it('explains unconvertible attributes and missing nodes', () => {
    const g = new GraphBuilder();
    g.placeholder('x', [-1, 4, 4, 2]);
    g.constant('w', [1, 1, 2, 2], randomArray(4, 1));
    g.node('nchw', 'Conv2D', ['x', 'w'], { ...conv(1, 'SAME'), data_format: attr.s('NCHW') });
    assert.throws(() => convertGraphModel(g.build(), { outputNode: 'nchw' }), (e: unknown) => e instanceof ConversionError && /data_format NCHW/.test(e.message));
    assert.throws(() => convertGraphModel(g.build(), { outputNode: 'nope' }), /nope: no such node/);
  });
});
