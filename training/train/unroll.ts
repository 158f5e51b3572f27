/**
 * Several train steps in one model run: the single-step graph copied K times, each copy's state inputs wired to
 * the previous copy's `.next` outputs. On a GPU provider a run pays a fixed cost (state up and down, a sync) that
 * dwarfs a small adapter's arithmetic; K steps per run pay it once. Per-step inputs (the batch, the method's
 * tensors, the hyper-parameters) are stacked along a new leading axis of K; scalar outputs come back as [K].
 */
import type { ModelIR, NodeIR, TensorData, ValueInfoIR } from '../onnx/proto.js';
import type { TrainStepModel } from './step.js';

export interface UnrolledTrainStep extends TrainStepModel {
  /** Steps per run: every input but the state has a leading axis of this length, and so has every scalar output. */
  steps: number;
}

/** The names of a step's per-step inputs: `x`, the method's batch tensors and the hyper-parameters. */
export function perStepInputs(step: TrainStepModel): string[] {
  return ['x', ...step.batch.map((b) => b.name), ...step.hyper];
}

/** `step` unrolled `k` times into one model (k = 1 gives the step itself). Methods with extra outputs (MoCo's keys) cannot be. */
export function unrollTrainStep(step: TrainStepModel, k: number): UnrolledTrainStep {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`steps per run must be a positive integer, got ${k}`);
  if (k === 1) return { ...step, steps: 1 };
  if (step.extras.length > 0)
    throw new Error(`${step.config.method}: its extra outputs (${step.extras.join(', ')}) feed the next step outside the graph`);
  const g = step.model.graph;
  const stateIn = new Map(step.state.map((s) => [s.name, s.output]));
  const perStep = new Set(perStepInputs(step));
  const initializers = new Set(g.initializers.map((t) => t.name));
  for (const name of perStep) if (!g.inputs.some((i) => i.name === name)) throw new Error(`the step has no input "${name}"`);

  const nodes: NodeIR[] = [];
  const extra: TensorData[] = [];
  const index = (i: number): string => {
    const name = `unroll/index${i}`;
    if (!extra.some((t) => t.name === name)) extra.push({ name, dtype: 'int64', dims: [], data: BigInt64Array.of(BigInt(i)) });
    return name;
  };
  // Copy i reads step i of each stacked input.
  for (const name of perStep)
    for (let i = 0; i < k; i++)
      nodes.push({
        opType: 'Gather',
        inputs: [name, index(i)],
        outputs: [`${name}@${i}`],
        name: `unroll/${name}@${i}`,
        attributes: { axis: { i: 0 } },
      });

  /** What value `v` of the single-step graph is in copy i. */
  const valueIn = (v: string, i: number): string => {
    if (v === '' || initializers.has(v)) return v;
    const next = stateIn.get(v);
    if (next !== undefined) return i === 0 ? v : valueIn(next, i - 1);
    if (perStep.has(v)) return `${v}@${i}`;
    return `s${i}/${v}`;
  };
  for (let i = 0; i < k; i++)
    for (const n of g.nodes)
      nodes.push({
        ...n,
        inputs: n.inputs.map((v) => valueIn(v, i)),
        outputs: n.outputs.map((v) => (v === '' ? v : `s${i}/${v}`)),
        ...(n.name ? { name: `s${i}/${n.name}` } : {}),
      });

  // The last copy's state, under the step's own output names; each scalar, one per copy, stacked.
  const outputs: ValueInfoIR[] = [];
  for (const s of step.state) {
    nodes.push({ opType: 'Identity', inputs: [valueIn(s.output, k - 1)], outputs: [s.output], name: `unroll/${s.output}` });
    outputs.push({ name: s.output, dtype: 'float32', shape: [...s.shape] });
  }
  extra.push({ name: 'unroll/axis0', dtype: 'int64', dims: [1], data: BigInt64Array.of(0n) });
  for (const name of step.scalars) {
    const parts = Array.from({ length: k }, (_, i) => `unroll/${name}@${i}`);
    parts.forEach((p, i) => nodes.push({ opType: 'Unsqueeze', inputs: [valueIn(name, i), 'unroll/axis0'], outputs: [p], name: p }));
    nodes.push({ opType: 'Concat', inputs: parts, outputs: [name], name: `unroll/${name}`, attributes: { axis: { i: 0 } } });
    outputs.push({ name, dtype: 'float32', shape: [k] });
  }
  const inputs: ValueInfoIR[] = g.inputs.map((i) => (perStep.has(i.name) ? { ...i, shape: i.shape ? [k, ...i.shape] : null } : i));
  const model: ModelIR = {
    ...step.model,
    docString: `${step.model.docString ?? 'train step'}, ${k} steps per run`,
    graph: { name: `${g.name}x${k}`, nodes, initializers: [...g.initializers, ...extra], inputs, outputs },
  };
  return { ...step, model, steps: k };
}
