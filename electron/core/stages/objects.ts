/**
 * Objects stage: what each photo shows (person, dog, boat, pizza ...), from the bundled CenterNet detector run on the
 * photo's thumbnail, the same input the embed stage reads. It runs after the first albums are out, since it costs
 * about 1.6x the embedding and only names albums that time and place do not. A photo is looked at once per content
 * hash and detector (`objects_done`), so a re-run or a restart costs one query; cancelled work resumes where it was.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { JobContext } from '../jobs.js';
import type { Library } from '../library.js';
import { thumbFile } from '../library/thumbs.js';
import { refreshAlbumNames } from '../albums/names.js';
import { DEFAULT_DETECTOR_ID, DEFAULT_OBJECT_THRESHOLD, ObjectDetector, objectsFromScores } from '../ml/objects.js';
import { createNormalizer, decodeRgb, type RgbImage } from '../ml/preprocess.js';
import type { Device } from '../ml/providers.js';
import { bundledModelsDir } from '../paths.js';
import { validateDetectorManifest } from '../../../training/convert/detector-manifest.js';

export interface ObjectsStageOptions {
  /** Detector manifest; default the bundled `models/centernet_objects.json` (the stage is a no-op without it). */
  manifestPath?: string;
  threshold?: number;
  /** Photos decoded and scored together; decoding the next chunk overlaps scoring this one. */
  chunk?: number;
}

export interface ObjectsStageResult {
  /** Photos the detector looked at in this run. */
  looked: number;
  /** Of those, photos with at least one object. */
  withObjects: number;
  /** Photos whose thumbnail could not be read (retried next run). */
  failed: number;
  device: string | null;
}

/** The key recorded per photo: a new detector version or threshold looks at every photo again. */
export function detectorKey(id: string, version: string, threshold: number): string {
  return `${id}@${version}+t${threshold}`;
}

/** Photos (ok, with a content hash) the detector `key` has not looked at in their current content. */
export function pendingObjects(lib: Library, key: string): { id: number; hash: string }[] {
  return lib.db
    .prepare(
      `SELECT p.id, p.hash FROM photos p LEFT JOIN objects_done d ON d.photo_id = p.id AND d.hash = p.hash AND d.model_key = ?
        WHERE p.status = 'ok' AND p.hash IS NOT NULL AND d.photo_id IS NULL ORDER BY p.id`,
    )
    .all(key) as { id: number; hash: string }[];
}

const NAMES_EVERY = 2000;

export async function objectsStage(lib: Library, device: Device, ctx: JobContext, opts: ObjectsStageOptions = {}): Promise<ObjectsStageResult> {
  const none: ObjectsStageResult = { looked: 0, withObjects: 0, failed: 0, device: null };
  const manifestPath = opts.manifestPath ?? path.join(bundledModelsDir(), `${DEFAULT_DETECTOR_ID}.json`);
  if (!fs.existsSync(manifestPath)) return none;
  const manifest = validateDetectorManifest(JSON.parse(fs.readFileSync(manifestPath, 'utf8')));
  const threshold = opts.threshold ?? DEFAULT_OBJECT_THRESHOLD;
  const key = detectorKey(manifest.id, manifest.version, threshold);
  const todo = pendingObjects(lib, key);
  if (todo.length === 0) return none;
  ctx.setRefining(true); // the albums are out; this only refines their names
  ctx.stage('objects', todo.length, `Finding what is in ${todo.length} photos`);

  const detector = await ObjectDetector.open(manifestPath, { device });
  const chunk = Math.max(1, opts.chunk ?? (detector.provider === 'cpu' ? 4 : 32));
  const normalize = createNormalizer(manifest);
  const db = lib.db;
  const clear = db.prepare('DELETE FROM photo_objects WHERE photo_id = ?');
  // A photo that was removed, or re-read with new content, while the detector ran gets nothing written.
  const markDone = db.prepare(
    `INSERT OR REPLACE INTO objects_done (photo_id, hash, model_key) SELECT @id, @hash, @key WHERE EXISTS (SELECT 1 FROM photos WHERE id = @id AND hash = @hash)`,
  );
  const putObject = db.prepare('INSERT OR REPLACE INTO photo_objects (photo_id, label, score) VALUES (?, ?, ?)');
  const result: ObjectsStageResult = { ...none, device: detector.provider };
  let sinceNames = 0;
  const decodeChunk = (start: number): Promise<(RgbImage | null)[]> =>
    Promise.all(
      todo.slice(start, start + chunk).map((t) =>
        decodeRgb(thumbFile(lib.layout.cache, t.hash, 'thumb'), manifest, { opaque: true }).then(
          (img) => img,
          () => null,
        ),
      ),
    );
  try {
    let next = decodeChunk(0);
    for (let start = 0; start < todo.length; start += chunk) {
      ctx.signal.throwIfAborted();
      const decoded = await next;
      if (start + chunk < todo.length) next = decodeChunk(start + chunk);
      const ok = decoded.flatMap((d, j) => (d ? [{ d, photo: todo[start + j] }] : []));
      result.failed += decoded.length - ok.length;
      if (ok.length > 0) {
        const batch = new Float32Array(ok.length * detector.imageSize);
        ok.forEach(({ d }, j) => normalize(d.data, batch, j * detector.imageSize));
        const found = objectsFromScores(await detector.scoreTensors(batch, chunk), detector.labels, threshold);
        db.transaction(() => {
          ok.forEach(({ photo }, j) => {
            if (markDone.run({ id: photo.id, hash: photo.hash, key }).changes === 0) return;
            clear.run(photo.id);
            for (const o of found[j]) putObject.run(photo.id, o.label, o.score);
            if (found[j].length > 0) result.withObjects++;
          });
        })();
        result.looked += ok.length;
        sinceNames += ok.length;
      }
      if (sinceNames >= NAMES_EVERY) {
        db.transaction(() => refreshAlbumNames(db))();
        sinceNames = 0;
      }
      ctx.progress(Math.min(todo.length, start + chunk));
    }
  } finally {
    await detector.release();
    // What was found so far names albums, also when the run was cancelled.
    if (sinceNames > 0) db.transaction(() => refreshAlbumNames(db))();
  }
  return result;
}
