/**
 * Training features: what the adapter reads when the encoder's manifest names `trainFeatures`.
 *
 * The default encoder's embedding is the global average pool of its last block's output, and that output is a
 * per-image gated 1x1 projection (720 -> 120 channels) of the block's squeeze-excite input plus the block's input.
 * Average pooling commutes with both steps, so the pools of those two tensors (720 + 120 values) hold everything the
 * embedding is computed from, before the projection narrows it. Training the adapter on them (instead of on the 120-d
 * embedding) lets it learn its own projection from the wider pooled activations; the layers that make them stay
 * frozen, and they are cached per photo and view exactly like embeddings. Measured in docs/results.md.
 *
 * The fine-tuned encoder is then: the backbone with a `train_features` output, then the adapter (mergeEncoder).
 * With `unitParts` each pooled tensor is scaled to unit length before the concatenation.
 */

import type { TrainFeatures } from '../manifest.js';
import type { ModelIR, NodeIR, TensorData } from '../onnx/proto.js';

export type { TrainFeatures } from '../manifest.js';

/** Name of the output {@link trainFeaturesModel} adds. */
export const TRAIN_FEATURES = 'train_features';

/**
 * The encoder with one more output, `train_features` [N, spec.dim]: the global average pools of `spec.pooled`,
 * concatenated in that order. The original outputs stay, so one run yields both.
 */
export function trainFeaturesModel(model: ModelIR, spec: TrainFeatures): ModelIR {
  const g = model.graph;
  const produced = new Set(g.nodes.flatMap((nd) => nd.outputs));
  for (const t of spec.pooled) if (!produced.has(t)) throw new Error(`training features: the model computes no tensor ${t}`);
  const used = new Set([
    ...g.nodes.flatMap((nd) => [...nd.outputs, ...nd.inputs]),
    ...g.initializers.map((t) => t.name),
    ...g.inputs.map((t) => t.name),
  ]);
  const pre = `${TRAIN_FEATURES}/`;
  if (used.has(TRAIN_FEATURES) || [...used].some((n) => n.startsWith(pre)))
    throw new Error(`training features: the model already uses the name ${TRAIN_FEATURES}`);
  const nodes: NodeIR[] = [];
  const initializers = [...g.initializers, ...(spec.unitParts ? unitConstants(pre, model.opsetVersion) : [])];
  const parts = spec.pooled.map((t, i) => {
    nodes.push(
      { opType: 'GlobalAveragePool', inputs: [t], outputs: [`${pre}pool${i}`], name: `${pre}pool${i}` },
      {
        opType: 'Flatten',
        inputs: [`${pre}pool${i}`],
        outputs: [`${pre}flat${i}`],
        name: `${pre}flat${i}`,
        attributes: { axis: { i: 1 } },
      },
    );
    if (!spec.unitParts) return `${pre}flat${i}`;
    nodes.push(...unitRowNodes(`${pre}flat${i}`, `${pre}unit${i}`, pre, String(i), model.opsetVersion));
    return `${pre}unit${i}`;
  });
  nodes.push({ opType: 'Concat', inputs: parts, outputs: [TRAIN_FEATURES], name: `${pre}concat`, attributes: { axis: { i: 1 } } });
  const batch = g.inputs[0]?.shape?.[0] ?? 'N';
  return {
    ...model,
    graph: {
      ...g,
      nodes: [...g.nodes, ...nodes],
      initializers,
      outputs: [...g.outputs, { name: TRAIN_FEATURES, dtype: 'float32', shape: [batch, spec.dim] }],
    },
  };
}

/** The initializers {@link unitRowNodes} reads: `<pre>eps`, and from opset 18 the reduce axes `<pre>axes`. */
export function unitConstants(pre: string, opset: number): TensorData[] {
  const eps: TensorData = { name: `${pre}eps`, dtype: 'float32', dims: [], data: Float32Array.of(UNIT_EPS) };
  return opset >= 18 ? [eps, { name: `${pre}axes`, dtype: 'int64', dims: [1], data: BigInt64Array.of(1n) }] : [eps];
}

/** Nodes scaling each row of `x` [N, D] to unit length, x / sqrt(sum(x^2) + eps); names end in `tag`. */
export function unitRowNodes(x: string, out: string, pre: string, tag: string, opset: number): NodeIR[] {
  const n = (s: string): string => `${pre}${s}${tag}`;
  // ReduceSumSquare takes its axes as an input from opset 18.
  const axes18 = opset >= 18;
  return [
    {
      opType: 'ReduceSumSquare',
      inputs: axes18 ? [x, `${pre}axes`] : [x],
      outputs: [n('sq')],
      name: n('sq'),
      attributes: axes18 ? { keepdims: { i: 1 } } : { axes: { ints: [1] }, keepdims: { i: 1 } },
    },
    { opType: 'Add', inputs: [n('sq'), `${pre}eps`], outputs: [n('sq_eps')], name: n('sq_eps') },
    { opType: 'Sqrt', inputs: [n('sq_eps')], outputs: [n('norm')], name: n('norm') },
    { opType: 'Div', inputs: [x, n('norm')], outputs: [out], name: n('unit') },
  ];
}

const UNIT_EPS = 1e-12;

/**
 * The spec of the features a library stores: always plain (no part scaling), so that one cache serves a backbone
 * whether or not its manifest scales the parts; {@link adapterInput} applies the scaling where they are read.
 */
export function storedFeatures(spec: TrainFeatures): TrainFeatures {
  const { unitParts: _unit, ...plain } = spec;
  return plain;
}

/**
 * What the adapter reads from stored (plain) features `data` [rows, spec.dim]: with `unitParts`, each part scaled
 * to unit length per row, as {@link trainFeaturesModel} does in the graph (in place; the same array is returned).
 */
export function adapterInput(spec: TrainFeatures | undefined, data: Float32Array): Float32Array {
  if (!spec?.unitParts) return data;
  const parts = spec.partDims;
  if (!parts) throw new Error('training features: unitParts needs partDims');
  const dim = spec.dim;
  if (data.length % dim !== 0) throw new RangeError(`training features: ${data.length} values are not rows of ${dim}`);
  for (let r = 0; r < data.length; r += dim) {
    let at = r;
    for (const d of parts) {
      let sq = 0;
      for (let j = at; j < at + d; j++) sq += data[j] * data[j];
      const inv = 1 / Math.sqrt(sq + UNIT_EPS);
      for (let j = at; j < at + d; j++) data[j] *= inv;
      at += d;
    }
  }
  return data;
}
