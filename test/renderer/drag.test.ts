import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ALBUM_MIME, PHOTOS_MIME, dragLabel, dropAction, isShoeboxDrag, mimeFor, type DragPayload } from '../../renderer/src/lib/drag.js';

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
});
