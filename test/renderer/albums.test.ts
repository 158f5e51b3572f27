import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AlbumSummary } from '../../electron/core/api/contract.js';
import { albumLabel, cleanAlbumName, sortAlbums, uniqueName } from '../../renderer/src/lib/albums.js';

function album(id: number, name: string, count: number, kind: AlbumSummary['kind'] = 'auto'): AlbumSummary {
  return { id, name, kind, nameSource: 'auto', nameReason: null, count, coverPhotoId: null, updatedAt: 0 };
}

const list = [album(1, 'Unsorted', 500, 'unsorted'), album(2, 'Beach', 10), album(3, 'album 10', 30), album(4, 'album 9', 30), album(5, 'Zoo', 99)];

describe('albums', () => {
  it('sorts by size, ties by name, Unsorted last', () => {
    assert.deepEqual(sortAlbums(list, 'size').map((a) => a.id), [5, 4, 3, 2, 1]);
  });

  it('sorts by name naturally and case-insensitively, Unsorted last', () => {
    assert.deepEqual(sortAlbums(list, 'name').map((a) => a.name), ['album 9', 'album 10', 'Beach', 'Zoo', 'Unsorted']);
  });

  it('does not mutate its input', () => {
    const copy = [...list];
    sortAlbums(list, 'name');
    assert.deepEqual(list, copy);
  });

  it('labels buttons starting with the album name', () => {
    assert.equal(albumLabel(album(2, 'Beach', 1)), 'Beach, 1 photo');
    assert.equal(albumLabel(album(2, 'Beach', 1234)), 'Beach, 1,234 photos');
  });

  it('makes unique names and cleans input', () => {
    assert.equal(uniqueName('New album', ['Beach']), 'New album');
    assert.equal(uniqueName('New album', ['new album', 'New album 2']), 'New album 3');
    assert.equal(cleanAlbumName('  Summer   2024 '), 'Summer 2024');
    assert.equal(cleanAlbumName('   '), null);
    assert.equal(cleanAlbumName('x'.repeat(201)), null);
  });
});
