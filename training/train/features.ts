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
import type { ModelIR, NodeIR } from '../onnx/proto.js';

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
  const initializers = [...g.initializers];
  if (spec.unitParts) {
    initializers.push({ name: `${pre}eps`, dtype: 'float32', dims: [], data: Float32Array.of(1e-12) });
    if (model.opsetVersion >= 18) initializers.push({ name: `${pre}axes`, dtype: 'int64', dims: [1], data: BigInt64Array.of(1n) });
  }
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
    // x / sqrt(sum(x^2) + eps), per photo (ReduceSumSquare takes axes as an input from opset 18).
    const n = (s: string): string => `${pre}${s}${i}`;
    const axes18 = model.opsetVersion >= 18;
    nodes.push(
      {
        opType: 'ReduceSumSquare',
        inputs: axes18 ? [n('flat'), `${pre}axes`] : [n('flat')],
        outputs: [n('sq')],
        name: n('sq'),
        attributes: axes18 ? { keepdims: { i: 1 } } : { axes: { ints: [1] }, keepdims: { i: 1 } },
      },
      { opType: 'Add', inputs: [n('sq'), `${pre}eps`], outputs: [n('sq_eps')], name: n('sq_eps') },
      { opType: 'Sqrt', inputs: [n('sq_eps')], outputs: [n('norm')], name: n('norm') },
      { opType: 'Div', inputs: [n('flat'), n('norm')], outputs: [n('unit')], name: n('unit') },
    );
    return n('unit');
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
