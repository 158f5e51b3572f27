/**
 * bench:faces-detect — the bundled face detector on composites: faces-12 crops pasted onto intel-scenes photos
 * (stretched to 1024x768, the size the faces stage looks at), one to three faces of different people per photo at
 * 32 to 256 px. Per number of looks (face-geometry.ts faceScales): recall per face size (a pasted face counts as found when a detection overlaps it
 * by IoU > 0.3), precision (detections matching a pasted face over all detections; a scene may hold a real face
 * too, so this is a lower bound), and time per photo (resizing and inference, decode excluded).
 *
 *   node dist/bench/faces-detect.js [--photos 200] [--levels 1,2,3] [--device cpu]
 */
import path from 'node:path';
import { DEFAULT_FACE_DETECTOR_ID, FaceDetector } from '../electron/core/ml/face-detect.js';
import { boxIou, type FaceBox } from '../electron/core/ml/face-geometry.js';
import type { Device } from '../electron/core/ml/providers.js';
import { bundledModelsDir } from '../electron/core/paths.js';
import { Rng } from '../training/numeric/rng.js';
import { argValue, writeResult } from './common.js';
import { composite, datasetManifest, FACE_SIZES as SIZES, type Composite } from './fixtures/face-composites.js';
const photos = Number(argValue('--photos', '200'));
const levelsList = argValue('--levels', '1,2,3').split(',').map(Number);
const device = argValue('--device', 'cpu') as Device;
const W = 1024;
const H = 768;

async function main(): Promise<void> {
  const scenes = datasetManifest('intel-scenes');
  const faces = datasetManifest('faces-12');
  const detector = await FaceDetector.open(path.join(bundledModelsDir(), `${DEFAULT_FACE_DETECTOR_ID}.json`), { device });
  const rng = new Rng(11);
  const set: Composite[] = [];
  for (let i = 0; i < photos; i++) set.push(await composite(rng, scenes, faces, W, H, SIZES));
  const results = [];
  for (const levels of levelsList) {
    const hit = new Map<number, number>();
    const total = new Map<number, number>();
    let detections = 0;
    let matched = 0;
    let ms = 0;
    for (const c of set) {
      const t0 = performance.now();
      const found: FaceBox[] = await detector.detect({ data: c.rgb, width: W, height: H }, { levels });
      ms += performance.now() - t0;
      detections += found.length;
      const used = new Set<number>();
      for (const f of c.faces) {
        total.set(f.size, (total.get(f.size) ?? 0) + 1);
        const j = found.findIndex((d, k) => !used.has(k) && boxIou(d, f) > 0.3);
        if (j >= 0) {
          used.add(j);
          hit.set(f.size, (hit.get(f.size) ?? 0) + 1);
        }
      }
      matched += used.size;
    }
    const recallBySize = Object.fromEntries(
      SIZES.map((s) => [s, { faces: total.get(s) ?? 0, recall: Number(((hit.get(s) ?? 0) / Math.max(1, total.get(s) ?? 0)).toFixed(3)) }]),
    );
    const big = SIZES.filter((s) => s >= 48);
    const bigRecall =
      big.reduce((a, s) => a + (hit.get(s) ?? 0), 0) /
      Math.max(
        1,
        big.reduce((a, s) => a + (total.get(s) ?? 0), 0),
      );
    const r = {
      levels,
      recallBySize,
      recall48up: Number(bigRecall.toFixed(3)),
      precision: Number((matched / Math.max(1, detections)).toFixed(3)),
      detections,
      msPerPhoto: Number((ms / set.length).toFixed(1)),
    };
    results.push(r);
    console.log(JSON.stringify(r));
  }
  await detector.release();
  const file = writeResult('faces-detect', {
    bench: 'faces-detect',
    inputs: { photos, size: [W, H], faceSizes: SIZES, facesPerPhoto: '1-3', device: detector.provider, detector: DEFAULT_FACE_DETECTOR_ID },
    targets: { recall48up: 0.95 },
    results,
  });
  console.log(file);
}

await main();
