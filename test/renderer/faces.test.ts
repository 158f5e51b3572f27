import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FaceInfo } from '../../electron/core/api/contract.js';
import { faceLabel, facesAt, isPersonMode, mergePeopleText, photoIdsOfFaces } from '../../renderer/src/lib/faces.js';

const face = (id: number, photoId: number, more: Partial<FaceInfo> = {}): FaceInfo => ({
  id,
  photoId,
  box: [0.1, 0.2, 0.3, 0.4],
  quality: 0.9,
  lowQuality: false,
  pinned: false,
  ...more,
});

describe("a person's faces mode", () => {
  const faces = [face(1, 10), face(2, 11), face(3, 10), face(4, 12), face(5, 13)];

  it('resolves the selection ranges to faces, and their photos each once', () => {
    assert.deepEqual(
      facesAt(faces, [
        [0, 1],
        [2, 4],
      ]).map((f) => f.id),
      [1, 3, 4],
    );
    assert.deepEqual(facesAt(faces, []), []);
    assert.deepEqual(
      facesAt(faces, [[3, 99]]).map((f) => f.id),
      [4, 5],
      'a range past the end stops at the last face',
    );
    assert.deepEqual(photoIdsOfFaces(faces, [[0, 4]]), [10, 11, 12], 'two faces of one photo give it once');
  });

  it('announces each tile with its place, low quality and whether the person placed it', () => {
    assert.equal(faceLabel(faces[0], 0, 5), 'Face 1 of 5');
    assert.equal(faceLabel(face(6, 14, { lowQuality: true }), 5, 6), 'Face 6 of 6, low quality');
    assert.equal(faceLabel(face(6, 14, { lowQuality: true, pinned: true }), 5, 6), 'Face 6 of 6, low quality, placed by you');
  });

  it('keeps only a valid mode from the preferences', () => {
    assert.ok(isPersonMode('faces') && isPersonMode('photos'));
    assert.ok(!isPersonMode('Faces') && !isPersonMode(null) && !isPersonMode(1));
  });
});

describe('merging people asks first', () => {
  it('names both people, says where the photos go and that it can be undone', () => {
    const text = mergePeopleText({ name: 'Sam', count: 3 }, { name: 'Alex', count: 5 });
    assert.equal(text.title, 'Merge “Sam” into “Alex”?');
    assert.equal(text.body, 'The 3 photos of “Sam” go to “Alex”. You can undo this.');
  });

  it('calls an unnamed person "this person", and says when the merged one takes the name', () => {
    assert.deepEqual(mergePeopleText({ name: 'Alex', count: 1 }, { name: null, count: 4 }), {
      title: 'Merge “Alex” into this person?',
      body: 'The 1 photo of “Alex” goes to this person, who is then called “Alex”. You can undo this.',
    });
    assert.equal(mergePeopleText({ name: null, count: 2 }, { name: 'Alex', count: 4 }).title, 'Merge this person into “Alex”?');
    assert.equal(mergePeopleText({ name: null, count: 2 }, { name: null, count: 4 }).title, 'Merge this person into the other person?');
  });
});
