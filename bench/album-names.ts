/**
 * bench:names — the names the whole pipeline gives albums of real photos that carry no dates or places, where only
 * the objects found can name them: per album, its name, the reason, its size and its main true class. A name that
 * does not fit its class (a "Balls" album of glaciers) is what a person would see as wrong.
 *
 *   node dist/bench/album-names.js [--dataset ../shared/datasets/intel-scenes] [--per-class 100]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LibraryService } from '../electron/core/service.js';
import { argValue, labeledSet, REPO, writeResult } from './common.js';

const dataset = path.resolve(argValue('--dataset', path.join(REPO, '..', 'shared', 'datasets', 'intel-scenes')));
const perClass = Number(argValue('--per-class', '100'));

async function main(): Promise<void> {
  const items = labeledSet(dataset, perClass);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-names-root-'));
  const lib = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-names-lib-'));
  const labelOf = new Map<string, string>();
  for (const [rel, label] of items) {
    // Flat, neutral file names: nothing but the pixels says what a photo shows.
    const name = `${String(labelOf.size).padStart(5, '0')}${path.extname(rel)}`;
    fs.copyFileSync(path.join(dataset, rel), path.join(root, name));
    labelOf.set(name, label);
  }
  const svc = new LibraryService(lib);
  try {
    svc.addRoot(root);
    const t0 = performance.now();
    const info = await svc.organize({ train: false, faces: false }).done;
    if (info.state !== 'done') throw new Error(info.message);
    const seconds = (performance.now() - t0) / 1000;
    const members = svc.db
      .prepare(
        `SELECT a.id, a.name, a.name_reason AS reason, a.kind, p.rel_path FROM albums a JOIN album_members m ON m.album_id = a.id
           JOIN photos p ON p.id = m.photo_id WHERE a.deleted_at IS NULL ORDER BY a.id`,
      )
      .all() as { id: number; name: string; reason: string | null; kind: string; rel_path: string }[];
    const albums = new Map<number, { name: string; reason: string | null; kind: string; classes: Map<string, number>; size: number }>();
    for (const m of members) {
      const a = albums.get(m.id) ?? { name: m.name, reason: m.reason, kind: m.kind, classes: new Map<string, number>(), size: 0 };
      const label = labelOf.get(m.rel_path) ?? '?';
      a.classes.set(label, (a.classes.get(label) ?? 0) + 1);
      a.size++;
      albums.set(m.id, a);
    }
    const objectCounts = svc.db.prepare('SELECT label, COUNT(*) AS n FROM photo_objects GROUP BY label ORDER BY n DESC LIMIT 12').all();
    const out = [...albums.values()].map((a) => {
      const [main, n] = [...a.classes].sort((x, y) => y[1] - x[1])[0];
      return { name: a.name, reason: a.reason, kind: a.kind, size: a.size, mainClass: main, purity: Number((n / a.size).toFixed(3)) };
    });
    for (const a of out) console.log(`${a.name.padEnd(28)} ${String(a.size).padStart(4)}  ${a.mainClass} ${a.purity}  ${a.reason ?? ''}`);
    const file = writeResult(`album-names-${path.basename(dataset)}`, {
      bench: 'album-names',
      inputs: { dataset: path.basename(dataset), perClass, photos: items.length },
      seconds: Number(seconds.toFixed(1)),
      objectsFound: objectCounts,
      albums: out,
    });
    console.log(`wrote ${file}`);
  } finally {
    await svc.close();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(lib, { recursive: true, force: true });
  }
}

await main();
