/**
 * bench:people — the whole faces pipeline (organize with the faces stage) on composites: faces-12 crops of 12 people
 * pasted onto intel-scenes photos at 1024x768, one to three faces of different people per photo. Reports detection
 * recall and precision, people clustering (ACC, NMI, ARI, pairwise precision and recall, on the faces found; an
 * unknown face counts as its own group), how many people were found for 12 true, whether two faces of one photo ever
 * share a person, and time: the faces stage per photo against the rest of the organize (with `--full`, the default
 * organize: training and objects too). Then corrections: a simulated person moves 2% of the faces (the misplaced ones
 * first) to the person most of that identity's faces have, Re-organize runs, and the untouched faces are scored
 * again; and a person who instead merges every person into the one holding most of the same identity.
 *
 *   node dist/bench/people.js [--photos 240] [--full] [--moved 0.02]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { evaluateClustering } from '../electron/core/cluster/index.js';
import { groupPeople, PEOPLE_DEFAULTS, type PeopleFace } from '../electron/core/cluster/people.js';
import { pairwiseScores } from '../electron/core/cluster/metrics.js';
import { boxIou } from '../electron/core/ml/face-geometry.js';
import { LibraryService } from '../electron/core/service.js';
import { Rng } from '../training/numeric/rng.js';
import { argValue, writeResult } from './common.js';
import { composite, datasetManifest, type Composite } from './fixtures/face-composites.js';

const photos = Number(argValue('--photos', '240'));
const full = process.argv.includes('--full');
const movedShare = Number(argValue('--moved', '0.02'));
const SIZES = [48, 64, 96, 160, 256];
const W = 1024;
const H = 768;
const r3 = (v: number): number => Math.round(v * 1000) / 1000;

async function main(): Promise<void> {
  const scenes = datasetManifest('intel-scenes');
  const faces = datasetManifest('faces-12');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-people-root-'));
  const lib = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-people-lib-'));
  const rng = new Rng(12);
  const truth = new Map<string, Composite['faces']>();
  for (let i = 0; i < photos; i++) {
    const c = await composite(rng, scenes, faces, W, H, SIZES);
    const name = `p${String(i).padStart(4, '0')}.jpg`;
    await sharp(c.rgb, { raw: { width: W, height: H, channels: 3 } })
      .jpeg({ quality: 90 })
      .toFile(path.join(root, name));
    truth.set(name, c.faces);
  }
  const svc = new LibraryService(lib);
  try {
    svc.addRoot(root);
    const t0 = performance.now();
    const info = await svc.organize(full ? {} : { train: false, objects: false }).done;
    if (info.state !== 'done') throw new Error(info.message);
    const seconds = (performance.now() - t0) / 1000;
    const timings = svc.report?.timings ?? {};
    const rows = svc.db
      .prepare(
        'SELECT f.id, f.photo_id, p.rel_path, f.x, f.y, f.w, f.h, f.person_id, f.low_quality, f.score, f.embedding FROM faces f JOIN photos p ON p.id = f.photo_id ORDER BY f.id',
      )
      .all() as {
      id: number;
      photo_id: number;
      rel_path: string;
      x: number;
      y: number;
      w: number;
      h: number;
      person_id: number | null;
      low_quality: number;
      score: number;
      embedding: Buffer;
    }[];
    const people = new Set(rows.map((r) => r.person_id).filter((p) => p !== null));
    let matched = 0;
    let pasted = 0;
    const t: number[] = [];
    const p: number[] = [];
    const labels = [...new Set(faces.map(([, l]) => l))];
    let unknown = 0;
    let sharedPhoto = 0;
    const truthOf = new Map<number, number>();
    for (const [name, want] of truth) {
      pasted += want.length;
      const found = rows.filter((r) => r.rel_path === name).map((r) => ({ ...r, x: r.x * W, y: r.y * H, w: r.w * W, h: r.h * H }));
      const persons = found.map((f) => f.person_id).filter((x) => x !== null);
      if (new Set(persons).size < persons.length) sharedPhoto++;
      const used = new Set<number>();
      for (const g of want) {
        const j = found.findIndex((d, k) => !used.has(k) && boxIou(d, g) > 0.3);
        if (j < 0) continue;
        used.add(j);
        matched++;
        t.push(labels.indexOf(g.person));
        truthOf.set(found[j].id, labels.indexOf(g.person));
        const who = found[j].person_id;
        if (who === null) unknown++;
        p.push(who ?? -1 - t.length);
      }
    }
    const scores = evaluateClustering(t, p);
    // The same faces grouped afresh at other thresholds (join = link - 0.05, as the defaults).
    const all: PeopleFace[] = rows.map((r) => ({
      id: r.id,
      photoId: r.photo_id,
      embedding: new Float32Array(r.embedding.buffer.slice(r.embedding.byteOffset, r.embedding.byteOffset + r.embedding.byteLength)),
      lowQuality: r.low_quality === 1,
    }));
    const lowRules: Record<string, (r: (typeof rows)[number]) => boolean> = {
      stored: (r) => r.low_quality === 1,
      'side<24|score<0.6': (r) => Math.min(r.w * W, r.h * H) < 24 || r.score < 0.6,
      none: () => false,
    };
    const sweep = Object.entries(lowRules).flatMap(([rule, isLow]) =>
      [0.45, 0.5, 0.55, 0.6].map((link) => {
        const { newPeople } = groupPeople(
          all.map((f, i) => ({ ...f, lowQuality: isLow(rows[i]) })),
          [],
          { linkThreshold: link, joinThreshold: link - 0.05 },
        );
        const personOf = new Map<number, number>();
        newPeople.forEach((members, k) => members.forEach((f) => personOf.set(f, k)));
        const ids = [...truthOf.keys()];
        const tt = ids.map((f) => truthOf.get(f)!);
        const pp = ids.map((f, i) => personOf.get(f) ?? -1 - i);
        const sc = evaluateClustering(tt, pp);
        const pw = pairwiseScores(tt, pp);
        return {
          rule,
          link,
          people: newPeople.length,
          acc: r3(sc.acc),
          nmi: r3(sc.nmi),
          pairwisePrecision: r3(pw.precision),
          pairwiseRecall: r3(pw.recall),
          unknownShare: r3(ids.filter((f) => !personOf.has(f)).length / ids.length),
        };
      }),
    );
    const pw = pairwiseScores(t, p);
    const facesSec = timings.faces ?? 0;
    const corrections = await simulateCorrections(svc, lib, truthOf);
    const result = {
      detection: { pasted, found: rows.length, recall: r3(matched / pasted), precision: r3(matched / Math.max(1, rows.length)) },
      people: {
        truePeople: labels.length,
        found: people.size,
        acc: r3(scores.acc),
        nmi: r3(scores.nmi),
        ari: r3(scores.ari),
        pairwisePrecision: r3(pw.precision),
        pairwiseRecall: r3(pw.recall),
        unknownShare: r3(unknown / Math.max(1, matched)),
        photosWithTwoFacesOfOnePerson: sharedPhoto,
        thresholds: { link: PEOPLE_DEFAULTS.linkThreshold, join: PEOPLE_DEFAULTS.joinThreshold },
        lowQualityShare: r3(rows.filter((r) => r.low_quality === 1).length / Math.max(1, rows.length)),
      },
      sweep,
      corrections,
      time: {
        organizeSec: r3(seconds),
        facesSec: r3(facesSec),
        facesMsPerPhoto: r3((facesSec * 1000) / photos),
        facesShareOfOrganize: r3(facesSec / Math.max(1e-9, seconds - facesSec)),
        facesShareOfAlbums: r3(facesSec / Math.max(1e-9, timings.firstAlbums ?? 0)),
        timings,
      },
    };
    console.log(JSON.stringify(result, null, 1));
    const file = writeResult('people', {
      bench: 'people',
      inputs: {
        photos,
        size: [W, H],
        faceSizes: SIZES,
        facesPerPhoto: '1-3',
        dataset: 'faces-12 on intel-scenes',
        train: full,
        objects: full,
        movedShare,
      },
      targets: { acc: 0.9, pairwisePrecision: 0.95, detectionRecall48up: 0.95, facesShareOfOrganize: 0.3 },
      ...result,
    });
    console.log(file);
  } finally {
    await svc.close();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(lib, { recursive: true, force: true });
  }
}

type Scores = { acc: number; nmi: number; ari: number; pairwisePrecision: number; pairwiseRecall: number; people: number };

/** People scores over `ids` (faces with a known identity): an unknown face counts as its own group. */
function scoreFaces(svc: LibraryService, truthOf: Map<number, number>, ids: readonly number[]): Scores {
  const personOf = new Map(
    (svc.db.prepare('SELECT id, person_id FROM faces').all() as { id: number; person_id: number | null }[]).map((r) => [r.id, r.person_id]),
  );
  const t = ids.map((f) => truthOf.get(f)!);
  const p = ids.map((f, i) => personOf.get(f) ?? -1 - i);
  const sc = evaluateClustering(t, p);
  const pw = pairwiseScores(t, p);
  return {
    acc: r3(sc.acc),
    nmi: r3(sc.nmi),
    ari: r3(sc.ari),
    pairwisePrecision: r3(pw.precision),
    pairwiseRecall: r3(pw.recall),
    people: new Set(ids.map((f) => personOf.get(f)).filter((x) => x != null)).size,
  };
}

/** For each identity, the person holding most of its faces (ties: the smaller id), or none. */
function mainPersonOf(svc: LibraryService, truthOf: Map<number, number>): Map<number, number> {
  const counts = new Map<number, Map<number, number>>();
  for (const r of svc.db.prepare('SELECT id, person_id FROM faces WHERE person_id IS NOT NULL').all() as {
    id: number;
    person_id: number;
  }[]) {
    const who = truthOf.get(r.id);
    if (who === undefined) continue;
    const c = counts.get(who) ?? new Map<number, number>();
    c.set(r.person_id, (c.get(r.person_id) ?? 0) + 1);
    counts.set(who, c);
  }
  const main = new Map<number, number>();
  const taken = new Set<number>();
  // Larger identities choose first; a person is the main one of one identity at most.
  for (const [who, c] of [...counts].sort((a, b) => Math.max(...b[1].values()) - Math.max(...a[1].values()))) {
    const best = [...c].filter(([p]) => !taken.has(p)).sort((a, b) => b[1] - a[1] || a[0] - b[0])[0];
    if (best) {
      main.set(who, best[0]);
      taken.add(best[0]);
    }
  }
  return main;
}

/**
 * The corrections a person makes, each from the state after the first organize (the library is copied back between
 * them): (a) move `movedShare` of the faces, misplaced ones first, round-robin over identities, to their identity's
 * main person, then Re-organize; (b) merge every person into its identity's main person, then Re-organize.
 */
async function simulateCorrections(svc: LibraryService, libDir: string, truthOf: Map<number, number>): Promise<Record<string, unknown>> {
  const ids = [...truthOf.keys()];
  const before = scoreFaces(svc, truthOf, ids);
  const snapshot = path.join(os.tmpdir(), `shoebox-people-snapshot-${process.pid}.db`);
  await svc.db.backup(snapshot);
  const main = mainPersonOf(svc, truthOf);
  const personOf = new Map(
    (svc.db.prepare('SELECT id, person_id FROM faces').all() as { id: number; person_id: number | null }[]).map((r) => [r.id, r.person_id]),
  );
  // (a) moves
  const rng = new Rng(7);
  const budget = Math.max(1, Math.round(ids.length * movedShare));
  const queues = new Map<number, number[]>();
  for (const f of ids) {
    const who = truthOf.get(f)!;
    if (!main.has(who)) continue;
    queues.set(who, [...(queues.get(who) ?? []), f]);
  }
  for (const [who, q] of queues) {
    const wrong = q.filter((f) => personOf.get(f) !== main.get(who));
    const right = q.filter((f) => personOf.get(f) === main.get(who));
    rng.shuffle(wrong);
    rng.shuffle(right);
    queues.set(who, [...wrong, ...right]);
  }
  const moved = new Set<number>();
  let misplacedMoved = 0;
  for (let round = 0; moved.size < budget && round < ids.length; round++)
    for (const [who, q] of queues) {
      if (moved.size >= budget || q.length === 0) continue;
      const f = q.shift()!;
      moved.add(f);
      if (personOf.get(f) === main.get(who)) continue;
      misplacedMoved++;
      const r = await svc.call('moveFaces', { faceIds: [f], toPersonId: main.get(who) });
      if (!r.ok) throw new Error(r.error.message);
    }
  const untouched = ids.filter((f) => !moved.has(f));
  const untouchedBefore = scoreFaces(svc, truthOf, untouched);
  await reorganize(svc);
  const afterMoves = scoreFaces(svc, truthOf, untouched);
  // (b) merges, from the first organize's state again: a copy of the library with the snapshot as its database.
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-people-lib-b-'));
  fs.cpSync(libDir, copy, { recursive: true });
  for (const f of fs.readdirSync(copy)) if (f.startsWith('library.db') || f === 'library.lock') fs.rmSync(path.join(copy, f));
  fs.renameSync(snapshot, path.join(copy, 'library.db'));
  const svcB = new LibraryService(copy);
  try {
    return {
      ...(await mergeCorrections(svcB, truthOf, ids, main, personOf, before)),
      moves: {
        moved: moved.size,
        misplacedMoved,
        untouched: untouched.length,
        untouchedBefore,
        afterReorganize: afterMoves,
        accGain: r3(afterMoves.acc - untouchedBefore.acc),
      },
    };
  } finally {
    await svcB.close();
    fs.rmSync(copy, { recursive: true, force: true });
  }
}

async function reorganize(svc: LibraryService): Promise<void> {
  const info = await svc.organize({ train: false, objects: false, reorganize: true }).done;
  if (info.state !== 'done') throw new Error(info.message);
}

async function mergeCorrections(
  svc: LibraryService,
  truthOf: Map<number, number>,
  ids: number[],
  main: Map<number, number>,
  personOf: Map<number, number | null>,
  before: Scores,
): Promise<Record<string, unknown>> {
  const restored = scoreFaces(svc, truthOf, ids);
  let merges = 0;
  let refused = 0;
  const majority = new Map<number, number>();
  {
    const counts = new Map<number, Map<number, number>>();
    for (const f of ids) {
      const p = personOf.get(f);
      if (p == null) continue;
      const c = counts.get(p) ?? new Map<number, number>();
      c.set(truthOf.get(f)!, (c.get(truthOf.get(f)!) ?? 0) + 1);
      counts.set(p, c);
    }
    for (const [p, c] of counts) majority.set(p, [...c].sort((a, b) => b[1] - a[1])[0][0]);
  }
  for (const [p, who] of majority) {
    const target = main.get(who);
    if (target === undefined || target === p) continue;
    const r = await svc.call('mergePeople', { sourceId: p, targetId: target });
    if (r.ok) merges++;
    else refused++;
  }
  const afterMerges = scoreFaces(svc, truthOf, ids);
  await reorganize(svc);
  const afterMergesReorganized = scoreFaces(svc, truthOf, ids);
  return {
    facesScored: ids.length,
    before,
    merges: {
      restoredMatches: restored.acc === before.acc,
      merges,
      refused,
      afterMerges,
      afterReorganize: afterMergesReorganized,
      accGain: r3(afterMergesReorganized.acc - before.acc),
    },
  };
}

await main();
