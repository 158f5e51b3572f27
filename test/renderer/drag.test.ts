import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { facesInPhotos } from '../../renderer/src/lib/faces.js';
import {
  ALBUM_MIME,
  FACES_MIME,
  PERSON_MIME,
  PHOTOS_MIME,
  dragLabel,
  dropAction,
  isShoeboxDrag,
  mimeFor,
  personDropAction,
  type DragPayload,
} from '../../renderer/src/lib/drag.js';

const photos: DragPayload = { kind: 'photos', fromAlbumId: 2, ranges: [[0, 3]], count: 3 };
const album: DragPayload = { kind: 'album', albumId: 5, name: 'Beach' };

describe('drag and drop', () => {
  it('moves photos onto any other album, including Unsorted', () => {
    assert.deepEqual(dropAction(photos, { id: 3, kind: 'auto' }), {
      kind: 'move',
      fromAlbumId: 2,
      ranges: [[0, 3]],
      count: 3,
      toAlbumId: 3,
    });
    assert.equal(dropAction(photos, { id: 1, kind: 'unsorted' })?.kind, 'move');
  });

  it('refuses to drop photos on their own album or an empty drag', () => {
    assert.equal(dropAction(photos, { id: 2, kind: 'auto' }), null);
    assert.equal(dropAction({ ...photos, count: 0, ranges: [] }, { id: 3, kind: 'auto' }), null);
    assert.equal(dropAction(null, { id: 3, kind: 'auto' }), null);
  });

  it('merges an album dropped onto another one, never onto itself', () => {
    assert.deepEqual(dropAction(album, { id: 7, kind: 'user' }), { kind: 'merge', sourceId: 5, targetId: 7 });
    assert.equal(dropAction(album, { id: 5, kind: 'user' }), null);
  });

  it('recognises its own drags by MIME type', () => {
    assert.equal(mimeFor(photos), PHOTOS_MIME);
    assert.equal(mimeFor(album), ALBUM_MIME);
    assert.ok(isShoeboxDrag(['text/plain', PHOTOS_MIME]));
    assert.ok(!isShoeboxDrag(['Files', 'text/uri-list']));
  });

  it('labels the drag image', () => {
    assert.equal(dragLabel(photos), '3 photos');
    assert.equal(dragLabel({ ...photos, count: 1 }), '1 photo');
    assert.equal(dragLabel({ ...photos, count: 12_345 }), '12,345 photos');
    assert.equal(dragLabel(album), 'Beach');
  });

  it("people: a person dropped on another merges; photos from a person's view move their faces; nothing else drops on a person", () => {
    const person: DragPayload = { kind: 'person', personId: 4, name: 'Sam' };
    assert.deepEqual(personDropAction(person, 9), { kind: 'merge-people', sourceId: 4, targetId: 9 });
    assert.equal(personDropAction(person, 4), null);
    assert.equal(dropAction(person, { id: 3, kind: 'user' }), null, 'a person is no album');
    const fromPerson: DragPayload = { ...photos, fromPersonId: 4 };
    assert.deepEqual(personDropAction(fromPerson, 9), { kind: 'move-faces', fromPersonId: 4, ranges: [[0, 3]], count: 3, toPersonId: 9 });
    assert.equal(personDropAction(fromPerson, 4), null);
    assert.equal(personDropAction(photos, 9), null, 'photos from an album have no person to take faces from');
    assert.equal(mimeFor(person), PERSON_MIME);
    assert.ok(isShoeboxDrag([PERSON_MIME]));
    assert.equal(dragLabel(person), 'Sam');
  });

  it('face tiles from a person move to another person, never onto an album', () => {
    const faces: DragPayload = { kind: 'faces', fromPersonId: 4, faceIds: [7, 8] };
    assert.deepEqual(personDropAction(faces, 9), { kind: 'move-face-ids', faceIds: [7, 8], toPersonId: 9 });
    assert.equal(personDropAction(faces, 4), null, 'not onto their own person');
    assert.equal(personDropAction({ ...faces, faceIds: [] }, 9), null);
    assert.equal(dropAction(faces, { id: 3, kind: 'auto' }), null, 'a face is no photo of an album');
    assert.equal(mimeFor(faces), FACES_MIME);
    assert.ok(isShoeboxDrag(['text/plain', FACES_MIME]));
    assert.equal(dragLabel(faces), '2 faces');
    assert.equal(dragLabel({ ...faces, faceIds: [7] }), '1 face');
  });

  it('picks the faces of the chosen photos', () => {
    const face = (id: number, photoId: number) => ({
      id,
      photoId,
      box: [0, 0, 1, 1] as [number, number, number, number],
      quality: 1,
      lowQuality: false,
      pinned: false,
    });
    assert.deepEqual(facesInPhotos([face(1, 10), face(2, 11), face(3, 12)], [12, 10]), [1, 3]);
    assert.deepEqual(facesInPhotos([face(1, 10)], []), []);
  });
});
