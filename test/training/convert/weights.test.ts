/**
 * Loading tfjs graph models (files and JS bundles) and decoding their weights, checked against tfjs' own decoder.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import * as tf from '@tensorflow/tfjs';

import { decodeWeights, halfToFloat, loadTfjsBundle, loadTfjsModel, TfjsModelError, validateGraphModelJson } from '../../../training/convert/tfjs-model.js';
import { floatToHalf, GraphBuilder, randomArray } from './helpers.js';

function sampleModel() {
  const g = new GraphBuilder();
  g.placeholder('x', [-1, 4, 4, 3]);
  g.constant('plain', [2, 3], randomArray(6, 1, -5, 5));
  g.constant('q8', [4, 5], randomArray(20, 2, -0.7, 1.3), 'uint8');
  g.constant('half', [7], [0, 1, -2, 0.1, 65504, 1e-6, -3.14159]);
  g.constant('ints', [3], [1, -2, 300], 'int32');
  return g.build();
}

void describe('decodeWeights', () => {
  void it('matches tf.io.decodeWeights for plain, uint8-quantized, float16 and int32 weights', () => {
    const model = sampleModel();
    const mine = decodeWeights(model);
    const specs = model.json.weightsManifest.flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[];
    const theirs = tf.io.decodeWeights(model.weightData.slice().buffer, specs);
    assert.deepEqual([...mine.keys()], Object.keys(theirs));
    for (const [name, t] of mine) {
      assert.deepEqual(t.shape, theirs[name].shape, name);
      assert.equal(t.dtype, theirs[name].dtype, name);
      assert.deepEqual(Array.from(t.data), Array.from(theirs[name].dataSync()), name);
    }
  });

  void it('dequantizes uint8 as min + scale * q', () => {
    const model = sampleModel();
    const spec = model.json.weightsManifest[0].weights.find((w) => w.name === 'q8')!;
    const { min, scale } = spec.quantization as { min: number; scale: number };
    const values = decodeWeights(model).get('q8')!.data;
    for (const v of values) {
      const q = (v - min) / scale;
      assert.ok(Math.abs(q - Math.round(q)) < 1e-3 && q > -0.01 && q < 255.01, `value ${v} is not on the quantization grid`);
    }
  });

  void it('rejects shards that are too short or too long', () => {
    const model = sampleModel();
    assert.throws(() => decodeWeights({ ...model, weightData: model.weightData.subarray(0, model.weightData.length - 1) }), /needs bytes/);
    const longer = new Uint8Array(model.weightData.length + 4);
    longer.set(model.weightData);
    assert.throws(() => decodeWeights({ ...model, weightData: longer }), /covers \d+ bytes but the shards hold/);
  });
});

void describe('halfToFloat', () => {
  void it('decodes normal, subnormal and special half floats', () => {
    for (const v of [0, 1, -2, 0.5, 65504, -(2 ** -14), 2 ** -24, 1.5 * 2 ** -20]) assert.equal(halfToFloat(floatToHalf(v)), v, `${v}`);
    assert.equal(halfToFloat(0x7c00), Infinity);
    assert.equal(halfToFloat(0xfc00), -Infinity);
    assert.ok(Number.isNaN(halfToFloat(0x7e00)));
    assert.ok(Object.is(halfToFloat(0x8000), -0));
  });
});

void describe('model loaders', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'shoebox-tfjs-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  void it('loads model.json with its binary shards', async () => {
    const model = sampleModel();
    const half = Math.floor(model.weightData.length / 2);
    const json = { ...model.json, weightsManifest: [{ ...model.json.weightsManifest[0], paths: ['a.bin', 'b.bin'] }] };
    await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
    await writeFile(path.join(dir, 'a.bin'), model.weightData.subarray(0, half));
    await writeFile(path.join(dir, 'b.bin'), model.weightData.subarray(half));
    const loaded = await loadTfjsModel(path.join(dir, 'model.json'));
    assert.deepEqual(loaded.weightData, model.weightData);
    assert.deepEqual(loaded.json.modelTopology, model.json.modelTopology);
  });

  void it('loads browserify bundles (nsfwjs layout) without running them', async () => {
    const model = sampleModel();
    const json = { ...model.json, weightsManifest: [{ ...model.json.weightsManifest[0], paths: ['group1-shard1of1'] }] };
    // Minifier style: unquoted keys, !0 for true. The prelude would set a global if it were executed.
    const literal = JSON.stringify(json)
      .replace(/"([A-Za-z_$][\w$]*)":/g, '$1:')
      .replace(/:true/g, ':!0');
    const wrap = (body: string) =>
      `globalThis.__shoeboxRan=1;!function(t){module.exports=t()}(function(){return function t(e,a,l){}({1:[function(t,e,a){e.exports=${body}},{}]},{},[1])(1)});`;
    await writeFile(path.join(dir, 'model.min.js'), wrap(literal));
    await writeFile(path.join(dir, 'group1-shard1of1.min.js'), wrap(JSON.stringify(Buffer.from(model.weightData).toString('base64'))));
    const loaded = await loadTfjsBundle(dir);
    assert.deepEqual(loaded.weightData, model.weightData);
    assert.deepEqual(JSON.parse(JSON.stringify(loaded.json)), JSON.parse(JSON.stringify(json)));
    assert.equal((globalThis as Record<string, unknown>).__shoeboxRan, undefined);
  });
});

void describe('validateGraphModelJson', () => {
  void it('names what is wrong', () => {
    const good = sampleModel().json;
    assert.throws(() => validateGraphModelJson({ ...good, format: 'layers-model' }, 'm.json'), /m\.json: format is "layers-model"/);
    assert.throws(() => validateGraphModelJson({ ...good, modelTopology: {} }), /modelTopology\.node must be an array/);
    const badWeight = structuredClone(good);
    (badWeight.weightsManifest[0].weights[0] as { dtype: string }).dtype = 'string';
    assert.throws(() => validateGraphModelJson(badWeight), (e: unknown) => e instanceof TfjsModelError && /weights\[0\] \(plain\)\.dtype "string"/.test(e.message));
    const badQuant = structuredClone(good);
    delete badQuant.weightsManifest[0].weights[1].quantization!.scale;
    assert.throws(() => validateGraphModelJson(badQuant), /\(q8\)\.quantization needs numeric min and scale/);
  });
});
