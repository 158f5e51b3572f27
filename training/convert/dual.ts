/**
 * The dual encoder: both bundled backbones in one ONNX model (issue #19, part 1).
 *
 * One input, the first backbone's (320 px, raw 0..255, NHWC). The second backbone (224 px, 0..1) reads the same
 * pixels resized inside the graph, so a photo is decoded once. The embedding is the first backbone's, so albums made
 * before any training are the same as with it alone; the training features are both backbones' pooled features,
 * each scaled to unit length so that neither dominates the cosine neighbours and the adapter's first layer:
 * [unit(first's training features), unit(second's embedding)].
 */

import type { EncoderManifest } from '../manifest.js';
import { validateManifest } from '../manifest.js';
import { decodeModel, encodeModel, type GraphIR, type NodeIR, type TensorData } from '../onnx/proto.js';
import { CENTERNET_MNV3, MOBILENET_V2_MID, buildEncoder, sha256Hex, type BuiltEncoder } from './encoders.js';

/** What the dual encoder is made of and called. */
export interface DualSpec {
  id: string;
  /** Bump when the merge's output changes on purpose. */
  version: string;
  summary: string;
  notes: string;
}

export const DUAL_MNV3_MNV2: DualSpec = {
  id: 'dual_mnv3_mnv2',
  version: '1',
  summary:
    'Both bundled models at once: albums start as with the recommended one, and training learns from both. Embedding takes about twice as long.',
  notes:
    'centernet_mnv3 and mobilenet_v2_mid merged into one graph. mobilenet_v2_mid reads the 320 px input resized to 224 px ' +
    "inside the graph (bilinear). Embedding: centernet_mnv3's. Training features: centernet_mnv3's 840 pooled " +
    "activations and mobilenet_v2_mid's 1792-d embedding, each scaled to unit length, concatenated (2632).",
};

/** The graph tensor the dual manifest's `trainFeatures` pools ([N, D, 1, 1], so pooling leaves it as it is). */
export const DUAL_FEATURES = 'dual/features';
/** Prefix of the second backbone's names inside the merged graph. */
export const SECOND_PREFIX = 'second/';

/** Every name in `g` (tensors, initializers, nodes) with `prefix` in front; empty names (absent inputs) stay. */
export function prefixGraph(g: GraphIR, prefix: string): GraphIR {
  const p = (s: string): string => (s === '' ? s : `${prefix}${s}`);
  for (const nd of g.nodes)
    for (const a of Object.values(nd.attributes ?? {})) if ('g' in a) throw new Error('prefixGraph: subgraphs are not supported');
  return {
    ...g,
    nodes: g.nodes.map((nd) => ({ ...nd, name: nd.name ? p(nd.name) : nd.name, inputs: nd.inputs.map(p), outputs: nd.outputs.map(p) })),
    initializers: g.initializers.map((t) => ({ ...t, name: p(t.name) })),
    inputs: g.inputs.map((v) => ({ ...v, name: p(v.name) })),
    outputs: g.outputs.map((v) => ({ ...v, name: p(v.name) })),
    valueInfo: g.valueInfo?.map((v) => ({ ...v, name: p(v.name) })),
  };
}

const f32 = (name: string, v: number[], dims: number[] = [v.length]): TensorData => ({
  name,
  dtype: 'float32',
  dims,
  data: Float32Array.from(v),
});

/** Nodes writing `out` = x / sqrt(sum(x^2, axis 1) + eps) for x [N, D] (opset 13..17: axes as an attribute). */
function unitRows(x: string, out: string, n: (s: string) => string): NodeIR[] {
  return [
    {
      opType: 'ReduceSumSquare',
      inputs: [x],
      outputs: [n('sq')],
      name: n('sumsq'),
      attributes: { axes: { ints: [1] }, keepdims: { i: 1 } },
    },
    { opType: 'Add', inputs: [n('sq'), 'dual/eps'], outputs: [n('sq_eps')], name: n('add_eps') },
    { opType: 'Sqrt', inputs: [n('sq_eps')], outputs: [n('norm')], name: n('norm') },
    { opType: 'Div', inputs: [x, n('norm')], outputs: [out], name: n('unit') },
  ];
}

/**
 * Merge two converted encoders into one dual encoder. `first` must name `trainFeatures`; `second`'s embedding is used
 * whole. Both take NHWC input; `second` gets `first`'s input resized (bilinear, centre-aligned) and mapped from
 * `first`'s pixel range to its own.
 */
export function mergeDual(first: BuiltEncoder, second: BuiltEncoder, spec: DualSpec): BuiltEncoder {
  const a = first.manifest;
  const b = second.manifest;
  if (!a.trainFeatures) throw new Error(`${a.id} names no training features`);
  if (a.input.layout !== 'NHWC' || b.input.layout !== 'NHWC') throw new Error('dual encoder: both backbones must take NHWC input');
  if (a.preprocess.resize !== 'cover' || b.preprocess.resize !== 'cover') throw new Error('dual encoder: both backbones must centre-crop');
  for (const m of [a, b])
    if (m.preprocess.mean.some((v) => v !== 0) || m.preprocess.std.some((v) => v !== 1))
      throw new Error(`dual encoder: ${m.id} normalizes with a mean or std; only a pixel range is supported`);
  if (first.onnx.length === 0 || second.onnx.length === 0) throw new Error('dual encoder: empty model');
  const source = decodeModel(first.onnx);
  const ga = source.graph;
  const gb = prefixGraph(decodeModel(second.onnx).graph, SECOND_PREFIX);
  const input = ga.inputs[0].name;
  const n = (s: string): string => `dual/${s}`;
  // Pixel range of a to that of b: b = lo_b + (x - lo_a) * (hi_b - lo_b) / (hi_a - lo_a).
  const [loA, hiA] = a.preprocess.range;
  const [loB, hiB] = b.preprocess.range;
  const mul = (hiB - loB) / (hiA - loA);
  const add = loB - loA * mul;
  // Scales just above the exact ratio, so that floor(in * scale) is the target size despite float32 rounding.
  const sh = (b.input.height / a.input.height) * (1 + 1e-6);
  const sw = (b.input.width / a.input.width) * (1 + 1e-6);
  const secondOut = gb.outputs[0].name;
  const nodes: NodeIR[] = [
    ...ga.nodes,
    { opType: 'Transpose', inputs: [input], outputs: [n('nchw')], name: n('to_nchw'), attributes: { perm: { ints: [0, 3, 1, 2] } } },
    {
      opType: 'Resize',
      inputs: [n('nchw'), '', n('scales')],
      outputs: [n('resized')],
      name: n('resize'),
      attributes: { mode: { s: 'linear' }, coordinate_transformation_mode: { s: 'half_pixel' } },
    },
    { opType: 'Transpose', inputs: [n('resized')], outputs: [n('nhwc')], name: n('to_nhwc'), attributes: { perm: { ints: [0, 2, 3, 1] } } },
    { opType: 'Mul', inputs: [n('nhwc'), n('range_mul')], outputs: [n('scaled')], name: n('range_mul') },
    { opType: 'Add', inputs: [n('scaled'), n('range_add')], outputs: [gb.inputs[0].name], name: n('range_add') },
    ...gb.nodes,
    ...a.trainFeatures.pooled.flatMap((t, i): NodeIR[] => [
      { opType: 'GlobalAveragePool', inputs: [t], outputs: [n(`pool${i}`)], name: n(`pool${i}`) },
      { opType: 'Flatten', inputs: [n(`pool${i}`)], outputs: [n(`flat${i}`)], name: n(`flat${i}`), attributes: { axis: { i: 1 } } },
    ]),
    {
      opType: 'Concat',
      inputs: a.trainFeatures.pooled.map((_, i) => n(`flat${i}`)),
      outputs: [n('first_features')],
      name: n('first_features'),
      attributes: { axis: { i: 1 } },
    },
    ...unitRows(n('first_features'), n('first_unit'), (s) => n(`first/${s}`)),
    ...unitRows(secondOut, n('second_unit'), (s) => n(`second/${s}`)),
    {
      opType: 'Concat',
      inputs: [n('first_unit'), n('second_unit')],
      outputs: [n('concat')],
      name: n('concat'),
      attributes: { axis: { i: 1 } },
    },
    { opType: 'Reshape', inputs: [n('concat'), n('shape4')], outputs: [DUAL_FEATURES], name: n('reshape') },
  ];
  const dim = a.trainFeatures.dim + b.output.dim;
  const graph: GraphIR = {
    name: spec.id,
    nodes,
    initializers: [
      ...ga.initializers,
      ...gb.initializers,
      f32(n('scales'), [1, 1, sh, sw]),
      f32(n('range_mul'), [mul], []),
      f32(n('range_add'), [add], []),
      f32(n('eps'), [1e-12], []),
      { name: n('shape4'), dtype: 'int64', dims: [4], data: BigInt64Array.of(0n, BigInt(dim), 1n, 1n) },
    ],
    inputs: ga.inputs,
    // The features are not an output: a session asked only for the embedding runs the first backbone alone (ORT drops
    // the unused branch); `trainFeatures` adds them as an output where they are wanted.
    outputs: [ga.outputs[0]],
  };
  const names = new Set<string>();
  for (const t of [...graph.initializers.map((i) => i.name), ...graph.nodes.flatMap((x) => x.outputs)]) {
    if (names.has(t)) throw new Error(`dual encoder: the name ${t} is defined twice`);
    names.add(t);
  }
  const onnx = encodeModel({
    ...source,
    docString: `Shoebox dual image encoder ${spec.id}@${spec.version}: ${a.id}@${a.version} + ${b.id}@${b.version}`,
    metadata: { id: spec.id, version: spec.version, source: `${a.id}@${a.version} (${a.sha256}) + ${b.id}@${b.version} (${b.sha256})` },
    graph,
  });
  const manifest: EncoderManifest = {
    id: spec.id,
    version: spec.version,
    file: `${spec.id}.onnx`,
    sha256: sha256Hex(onnx),
    opset: Math.max(a.opset, b.opset),
    input: a.input,
    preprocess: a.preprocess,
    output: a.output,
    source: {
      package: `${a.source.package} + ${b.source.package}`,
      version: `${a.source.version} + ${b.source.version}`,
      license: a.source.license === b.source.license ? a.source.license : `${a.source.license} + ${b.source.license}`,
      weightsLicense: `${a.id}: ${a.source.weightsLicense ?? a.source.license}; ${b.id}: ${b.source.weightsLicense ?? b.source.license}`,
      parts: [a, b].map((m) => ({ id: m.id, version: m.version, sha256: m.sha256, source: m.source })),
    },
    trainFeatures: { pooled: [DUAL_FEATURES], dim, deferred: true },
    summary: spec.summary,
    notes: spec.notes,
  };
  return { manifest: validateManifest(manifest), onnx };
}

/** Build the dual encoder from the installed packages (both backbones converted again, then merged). */
export async function buildDual(spec: DualSpec = DUAL_MNV3_MNV2, startDirs?: string[]): Promise<BuiltEncoder> {
  return mergeDual(await buildEncoder(CENTERNET_MNV3, startDirs), await buildEncoder(MOBILENET_V2_MID, startDirs), spec);
}
