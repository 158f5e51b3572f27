import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { averageLinkage, groupPeople, type KnownPerson, type PeopleFace } from '../../../electron/core/cluster/people.js';
import { Rng } from '../../../training/numeric/rng.js';

/** Unit vectors around `k` well-separated centres in 32-d. */
function people(k: number, perPerson: number, noise: number, seed = 1): { vectors: Float32Array[]; truth: number[] } {
  const rng = new Rng(seed);
  const unit = (v: Float32Array): Float32Array => {
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  };
  const centres = Array.from({ length: k }, () => unit(Float32Array.from({ length: 32 }, () => rng.normal())));
  const vectors: Float32Array[] = [];
  const truth: number[] = [];
  for (let p = 0; p < k; p++)
    for (let i = 0; i < perPerson; i++) {
      vectors.push(unit(centres[p].map((c) => c + noise * rng.normal())));
      truth.push(p);
    }
  return { vectors, truth };
}

describe('people', () => {
  test('average linkage finds the groups with no number given, and never joins two items of one photo', () => {
    const { vectors, truth } = people(5, 8, 0.05);
    const labels = averageLinkage(
      vectors,
      vectors.map((_, i) => i),
      0.5,
    );
    for (let i = 0; i < vectors.length; i++)
      for (let j = 0; j < vectors.length; j++) assert.equal(labels[i] === labels[j], truth[i] === truth[j], `${i} ${j}`);
    // Faces 0 and 1 (one person) in one photo: they split, the rest of their person joins one of them.
    const group = vectors.map((_, i) => (i === 1 ? 0 : i));
    const split = averageLinkage(vectors, group, 0.5);
    assert.notEqual(split[0], split[1]);
    assert.equal(new Set(split).size, 6);
    assert.deepEqual(
      averageLinkage(vectors, group, -1),
      vectors.map((_, i) => i),
      'nothing merges below distance 0',
    );
  });

  test('new faces join the person already there, found new people otherwise; low quality never founds one', () => {
    const { vectors, truth } = people(3, 6, 0.05, 2);
    // Person 100 already has person 0's first three faces.
    const known: KnownPerson[] = [
      {
        id: 100,
        centre: vectors.slice(0, 3).reduce((c, v) => c.map((x, k) => x + v[k]), new Float32Array(32)),
        count: 3,
        photos: new Set([1, 2, 3]),
      },
    ];
    const faces: PeopleFace[] = vectors
      .slice(3)
      .map((embedding, j) => ({ id: j + 4, photoId: j + 4, embedding, lowQuality: truth[j + 3] === 2 }));
    faces[1].notPeople = [100];
    const { joins, newPeople } = groupPeople(faces, known);
    assert.deepEqual(
      [...joins].sort((a, b) => a[0] - b[0]),
      [
        [4, 100],
        [6, 100],
      ],
      'person 0\'s other faces join 100, but not the one that is "not" them',
    );
    assert.deepEqual(
      newPeople.map((p) => p.sort((a, b) => a - b)),
      [[7, 8, 9, 10, 11, 12]],
      'person 1 is new; person 2 (low quality) stays unknown',
    );
    // Only the first 3 open faces that join no one (5, 7, 8) are grouped in one run; the rest wait, and say so.
    const capped = groupPeople(faces, known, { maxGroup: 3 });
    assert.deepEqual(capped.deferred, [9, 10, 11, 12]);
    assert.deepEqual(capped.newPeople, [[7, 8]]);
    const again = groupPeople(
      faces.map((f) => ({ ...f, lowQuality: false })),
      known,
    );
    assert.equal(again.newPeople.length, 2);
  });

  test("a new face joins by its average distance to a person's faces: a big person's centre is not near everyone", () => {
    // Non-negative-like features: every face shares a common direction; identity and per-face noise come on top.
    const rng = new Rng(4);
    const dim = 64;
    const basis = (i: number): Float32Array => Float32Array.from({ length: dim }, (_, k) => (k === i ? 1 : 0));
    const face = (who: number): Float32Array => {
      const v = basis(0).map((x, k) => 0.8 * x + 0.6 * (k === who ? 1 : 0) + (k > 2 ? (0.5 / Math.sqrt(dim - 3)) * rng.normal() : 0));
      const n = Math.hypot(...v);
      return v.map((x) => x / n);
    };
    const members = Array.from({ length: 40 }, () => face(1));
    const sum = members.reduce((c, v) => c.map((x, k) => x + v[k]), new Float32Array(dim));
    const a: KnownPerson = { id: 1, centre: sum, count: members.length, photos: new Set(members.map((_, i) => i)) };
    const other = face(2);
    const norm = Math.hypot(...sum);
    const toUnitCentre = 1 - other.reduce((s, x, k) => s + (x * sum[k]) / norm, 0);
    assert.ok(toUnitCentre < 0.45, `the scene is hard: ${toUnitCentre.toFixed(3)} from the normalised centre`);
    const { joins } = groupPeople(
      [
        { id: 100, photoId: 100, embedding: other, lowQuality: false },
        { id: 101, photoId: 101, embedding: face(1), lowQuality: false },
      ],
      [a],
    );
    assert.deepEqual([...joins], [[101, 1]], "another person's face stays out; the person's own joins");
  });
});
