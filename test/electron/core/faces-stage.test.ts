/**
 * The faces stage through a real organize: faces found where they were pasted, grouped into two people (two faces
 * of one photo never share a person), a photo without a face has none, a re-run looks at nothing again, a new photo
 * joins the person already there, and the CLI's JSON lists people and faces. The faces are crops of
 * @vladmandic/human's MIT-licensed sample collage (a man and a woman), read from node_modules at test time.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { organizeJson } from '../../../electron/cli/main.js';
import { LibraryService } from '../../../electron/core/service.js';
import { findPackageDir } from '../../../training/convert/encoders.js';
import { Rng } from '../../../training/numeric/rng.js';
import { tmpDir } from '../../helpers/images.js';
import { requireModel } from '../../helpers/models.js';

const dirs: string[] = [];
after(() => process.env.KEEP || dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** Head-and-shoulders crops of two people in the collage's top row. */
const PEOPLE = {
  man: { left: 405, top: 5, width: 90, height: 110 },
  woman: { left: 185, top: 5, width: 90, height: 100 },
};

interface Pasted {
  who: keyof typeof PEOPLE;
  x: number;
  y: number;
  size: number;
}

/** A 900x700 textured photo with the given people pasted in (their crop scaled to `size` px wide). */
async function photo(file: string, collage: string, seed: number, pasted: Pasted[]): Promise<void> {
  const rng = new Rng(seed);
  const noise = Buffer.from(Uint8Array.from({ length: 90 * 70 * 3 }, () => 40 + rng.int(160)));
  const layers = [];
  for (const p of pasted) {
    const c = PEOPLE[p.who];
    let img = sharp(collage).extract(c);
    if (seed % 2) img = img.flop();
    layers.push({ input: await img.resize(p.size).png().toBuffer(), left: p.x, top: p.y });
  }
  await sharp(noise, { raw: { width: 90, height: 70, channels: 3 } })
    .resize(900, 700)
    .blur(2)
    .composite(layers)
    .jpeg({ quality: 90 })
    .toFile(file);
}

describe('faces stage', () => {
  let root: string;
  let svc: LibraryService;
  let collage: string;
  const id = (rel: string): number => (svc.db.prepare('SELECT id FROM photos WHERE rel_path = ?').get(rel) as { id: number }).id;
  const facesOf = (rel: string) =>
    svc.db.prepare('SELECT x, y, w, h, person_id, low_quality FROM faces WHERE photo_id = ? ORDER BY x').all(id(rel)) as {
      x: number;
      y: number;
      w: number;
      h: number;
      person_id: number | null;
      low_quality: number;
    }[];

  before(async () => {
    requireModel('blazeface_back');
    requireModel('faceres');
    collage = path.join(findPackageDir('@vladmandic/human'), 'assets', 'samples.jpg');
    root = tmpDir('shoebox-faces-root-');
    const lib = tmpDir('shoebox-faces-lib-');
    dirs.push(root, lib);
    for (let i = 0; i < 4; i++) {
      await photo(path.join(root, `man-${i}.jpg`), collage, i, [{ who: 'man', x: 100 + 120 * i, y: 150 + 40 * i, size: 220 + 20 * i }]);
      await photo(path.join(root, `woman-${i}.jpg`), collage, 10 + i, [
        { who: 'woman', x: 500 - 100 * i, y: 120 + 30 * i, size: 230 + 15 * i },
      ]);
    }
    await photo(path.join(root, 'both.jpg'), collage, 20, [
      { who: 'man', x: 80, y: 200, size: 240 },
      { who: 'woman', x: 520, y: 180, size: 240 },
    ]);
    await photo(path.join(root, 'nobody.jpg'), collage, 21, []);
    svc = new LibraryService(lib);
    svc.addRoot(root);
    const info = await svc.organize({ train: false, objects: false }).done;
    assert.equal(info.state, 'done', info.message);
  });
  after(async () => svc && (await svc.close()));

  test('each photo has the faces pasted into it, where they were pasted', () => {
    for (let i = 0; i < 4; i++) {
      const [f, ...rest] = facesOf(`man-${i}.jpg`);
      assert.equal(rest.length, 0, `man-${i}`);
      const cx = (f.x + f.w / 2) * 900;
      assert.ok(cx > 100 + 120 * i && cx < 100 + 120 * i + 220 + 20 * i, `man-${i}: face centre at x ${cx.toFixed(0)}`);
      assert.equal(f.low_quality, 0);
    }
    assert.equal(facesOf('both.jpg').length, 2);
    assert.deepEqual(facesOf('nobody.jpg'), []);
    assert.equal(
      (svc.db.prepare('SELECT COUNT(*) AS n FROM faces_done').get() as { n: number }).n,
      10,
      'every photo is marked as looked at',
    );
  });

  test('faces are grouped into two people, and the two faces of one photo are two people', () => {
    const man = new Set([0, 1, 2, 3].map((i) => facesOf(`man-${i}.jpg`)[0].person_id));
    const woman = new Set([0, 1, 2, 3].map((i) => facesOf(`woman-${i}.jpg`)[0].person_id));
    assert.equal(man.size, 1);
    assert.equal(woman.size, 1);
    const [m] = man;
    const [w] = woman;
    assert.ok(m !== null && w !== null && m !== w);
    assert.deepEqual(
      facesOf('both.jpg').map((f) => f.person_id),
      [m, w],
    );
    const people = svc.db.prepare('SELECT id, cover_face_id FROM people ORDER BY id').all() as {
      id: number;
      cover_face_id: number | null;
    }[];
    assert.equal(people.length, 2);
    assert.ok(people.every((p) => p.cover_face_id !== null));
  });

  test('a re-run looks at nothing again; a new photo of someone joins them; the JSON lists people and faces', async () => {
    const before = facesOf('man-0.jpg')[0].person_id;
    await photo(path.join(root, 'man-new.jpg'), collage, 31, [{ who: 'man', x: 300, y: 250, size: 260 }]);
    const info = await svc.organize({ train: false, objects: false }).done;
    assert.equal(info.state, 'done', info.message);
    assert.equal(svc.report?.faces?.looked, 1, 'only the new photo');
    assert.equal(facesOf('man-0.jpg')[0].person_id, before, 'people stay');
    assert.equal(facesOf('man-new.jpg')[0].person_id, before);
    const doc = organizeJson(svc, root, {});
    assert.equal(doc.people.length, 2);
    assert.deepEqual(doc.people.map((p) => p.count).sort(), [5, 6], 'photos per person: 4 + both + the new one, 4 + both');
    assert.equal(doc.faces.length, 11);
    const f = doc.faces.find((x) => x.path === 'man-new.jpg')!;
    assert.equal(f.person, before);
    assert.ok(f.box[0] >= 280 && f.box[0] + f.box[2] <= 580 && f.quality > 0, `box ${f.box.join(',')}`);
  });
});
