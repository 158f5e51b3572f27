/**
 * bench:objects — the bundled object detector (models/centernet_objects) on a labeled set whose classes are COCO
 * classes (cifar10-test: 8 of its 10 classes have a COCO counterpart): per class, how often its photos get the
 * matching label (recall) and how often a label given is the right one (precision), at several thresholds; and
 * the detector's time per photo on this machine, decode included.
 *
 *   node dist/bench/objects.js [--dataset ../shared/datasets/cifar10-test] [--per-class 100] [--device cpu]
 */
import path from 'node:path';
import { DEFAULT_DETECTOR_ID, DEFAULT_OBJECT_THRESHOLD, ObjectDetector } from '../electron/core/ml/objects.js';
import { createNormalizer, decodeRgb } from '../electron/core/ml/preprocess.js';
import type { Device } from '../electron/core/ml/providers.js';
import { bundledModelsDir } from '../electron/core/paths.js';
import { argValue, labeledSet, REPO, writeResult } from './common.js';

const dataset = path.resolve(argValue('--dataset', path.join(REPO, '..', 'shared', 'datasets', 'cifar10-test')));
const perClass = Number(argValue('--per-class', '100'));
const device = argValue('--device', 'cpu') as Device;
const THRESHOLDS = [0.2, 0.3, 0.4, 0.5];
/** Dataset class -> the COCO label that means it (classes without one count only as negatives). */
const COCO: Record<string, string> = {
  airplane: 'airplane',
  automobile: 'car',
  bird: 'bird',
  cat: 'cat',
  dog: 'dog',
  horse: 'horse',
  ship: 'boat',
  truck: 'truck',
};

async function main(): Promise<void> {
  const items = labeledSet(dataset, perClass);
  const detector = await ObjectDetector.open(path.join(bundledModelsDir(), `${DEFAULT_DETECTOR_ID}.json`), { device });
  const normalize = createNormalizer(detector.manifest);
  const labels = detector.labels;
  const scores: Float32Array[] = [];
  let decodeMs = 0;
  let detectMs = 0;
  try {
    const chunk = detector.provider === 'cpu' ? 4 : 32;
    for (let i = 0; i < items.length; i += chunk) {
      const part = items.slice(i, i + chunk);
      let t = performance.now();
      const imgs = await Promise.all(part.map(([file]) => decodeRgb(path.join(dataset, file), detector.manifest, { opaque: true })));
      const batch = new Float32Array(part.length * detector.imageSize);
      imgs.forEach((img, j) => normalize(img.data, batch, j * detector.imageSize));
      decodeMs += performance.now() - t;
      t = performance.now();
      const s = await detector.scoreTensors(batch, chunk);
      detectMs += performance.now() - t;
      for (let j = 0; j < part.length; j++) scores.push(s.subarray(j * labels.length, (j + 1) * labels.length));
    }
  } finally {
    await detector.release();
  }

  const col = (label: string): number => labels.indexOf(label);
  const byThreshold = THRESHOLDS.map((threshold) => {
    const perClassResult: Record<string, { photos: number; recall: number; given: number; precision: number | null }> = {};
    for (const [cls, coco] of Object.entries(COCO)) {
      const c = col(coco);
      let photos = 0;
      let hit = 0;
      let given = 0;
      let right = 0;
      items.forEach(([, label], i) => {
        const has = scores[i][c] >= threshold;
        if (label === cls) {
          photos++;
          if (has) hit++;
        }
        if (has) {
          given++;
          if (label === cls) right++;
        }
      });
      perClassResult[cls] = { photos, recall: photos ? hit / photos : 0, given, precision: given ? right / given : null };
    }
    // Photos that got no label at all, and labels per photo.
    const counts = scores.map((s) => s.reduce((n, v) => n + (v >= threshold ? 1 : 0), 0));
    const vals = Object.values(perClassResult);
    const macro = (f: (v: (typeof vals)[number]) => number | null): number => {
      const xs = vals.map(f).filter((x): x is number => x !== null);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    return {
      threshold,
      recall: macro((v) => v.recall),
      precision: macro((v) => v.precision),
      noLabel: counts.filter((n) => n === 0).length / counts.length,
      labelsPerPhoto: counts.reduce((a, b) => a + b, 0) / counts.length,
      perClass: perClassResult,
    };
  });
  const result = {
    dataset: path.basename(dataset),
    photos: items.length,
    perClass,
    detector: DEFAULT_DETECTOR_ID,
    shippedThreshold: DEFAULT_OBJECT_THRESHOLD,
    device,
    decodeMsPerPhoto: decodeMs / items.length,
    detectMsPerPhoto: detectMs / items.length,
    thresholds: byThreshold,
  };
  for (const t of byThreshold) {
    console.log(
      `t=${t.threshold}: recall ${t.recall.toFixed(3)} precision ${t.precision.toFixed(3)} no label ${(t.noLabel * 100).toFixed(0)}%`,
    );
    for (const [cls, v] of Object.entries(t.perClass))
      console.log(`  ${cls}: recall ${v.recall.toFixed(2)} precision ${v.precision?.toFixed(2) ?? '-'} (${v.given} given)`);
  }
  console.log(`decode ${result.decodeMsPerPhoto.toFixed(1)} ms, detect ${result.detectMsPerPhoto.toFixed(1)} ms per photo`);
  console.log(writeResult(`objects-${result.dataset}`, result));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
