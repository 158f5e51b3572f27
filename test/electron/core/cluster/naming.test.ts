import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { distinctiveObjects, nameAlbum, placeLabel, pluralLabel, timeLabel, uniqueNames, type LibraryContext, type NamedPlace } from '../../../../electron/core/cluster/naming.js';

/** Wall-clock time stored as UTC, as the indexer does. */
const at = (y: number, month: number, day: number, hour = 12) => Date.UTC(y, month - 1, day, hour);
const lisbon: NamedPlace = { city: 'Lisbon', region: null, country: 'Portugal', lat: 38.7 };
const porto: NamedPlace = { city: 'Porto', region: null, country: 'Portugal', lat: 41.1 };
const noLibrary: LibraryContext = { detected: 0, objects: new Map() };

void describe('timeLabel', () => {
  it('names a day, a few days, a month, a season and a span of months', () => {
    assert.equal(timeLabel([at(2023, 6, 12, 9), at(2023, 6, 12, 18)])?.label, '12 June 2023');
    assert.equal(timeLabel([at(2024, 6, 3), at(2024, 6, 9)])?.label, '3\u20139 June 2024');
    assert.equal(timeLabel([at(2024, 6, 1), at(2024, 6, 28)])?.label, 'June 2024');
    assert.equal(timeLabel([at(2023, 6, 28), at(2023, 8, 2)])?.label, 'Summer 2023');
    assert.equal(timeLabel([at(2023, 12, 20), at(2024, 1, 20)])?.label, 'Winter 2023\u201324');
    assert.equal(timeLabel([at(2023, 7, 20), at(2023, 9, 20)])?.label, 'Jul \u2013 Sep 2023');
  });

  it('flips the seasons in the southern hemisphere', () => {
    assert.equal(timeLabel([at(2023, 12, 28), at(2024, 1, 20)], true)?.label, 'Summer 2023\u201324');
  });

  it('is not tight over more than 100 days, but ignores a few strays', () => {
    assert.equal(timeLabel([at(2020, 1, 1), at(2023, 6, 1)]), null);
    const trip = Array.from({ length: 20 }, (_, i) => at(2024, 6, 3 + (i % 5)));
    assert.equal(timeLabel([...trip, at(2011, 1, 1), at(2019, 5, 5)])?.label, '3\u20137 June 2024');
  });
});

void describe('placeLabel', () => {
  it('takes the city most photos share, else a country they share, else nothing', () => {
    assert.equal(placeLabel([lisbon, lisbon, lisbon, porto])?.label, 'Lisbon');
    assert.equal(placeLabel([lisbon, porto, lisbon, porto])?.label, 'Portugal');
    assert.equal(placeLabel([lisbon, { city: 'Paris', region: null, country: 'France', lat: 48 }]), null);
  });
});

void describe('nameAlbum', () => {
  const days = [3, 5, 7, 9].map((d) => at(2024, 6, d));
  it('names a trip by its place and time, with the reason', () => {
    const n = nameAlbum({ count: 4, takenLocal: days, places: Array(4).fill(lisbon) as NamedPlace[] }, noLibrary);
    assert.equal(n.name, 'Lisbon, 3\u20139 June 2024');
    assert.match(n.reason, /All 4 photos taken near Lisbon, most between 3 and 9 June 2024/);
  });

  it('falls back to the time alone, then the place alone', () => {
    assert.equal(nameAlbum({ count: 4, takenLocal: days, places: [] }, noLibrary).name, '3\u20139 June 2024');
    const years = Array.from({ length: 10 }, (_, i) => at(2015 + i, 3, 1));
    assert.equal(nameAlbum({ count: 10, takenLocal: years, places: Array(10).fill(lisbon) as NamedPlace[] }, noLibrary).name, 'Lisbon');
  });

  it('names by distinctive objects when time and place say nothing', () => {
    const library: LibraryContext = { detected: 100, objects: new Map([['dog', 12], ['person', 70]]) };
    const n = nameAlbum({ count: 10, takenLocal: [], places: [], objects: new Map([['dog', 9], ['person', 7]]) }, library);
    assert.equal(n.name, 'Dogs');
    assert.match(n.reason, /90% show a dog \(12% of the library\)/);
  });

  it('gives no name (the caller numbers it) when nothing stands out', () => {
    const library: LibraryContext = { detected: 100, objects: new Map([['person', 70]]) };
    assert.equal(nameAlbum({ count: 10, takenLocal: [], places: [], objects: new Map([['person', 7]]) }, library).name, null);
  });
});

void describe('distinctiveObjects and pluralLabel', () => {
  it('keeps objects much commoner in the album than in the library', () => {
    const lib: LibraryContext = { detected: 1000, objects: new Map([['boat', 50], ['car', 500]]) };
    assert.deepEqual(distinctiveObjects(new Map([['boat', 30], ['car', 45]]), 50, lib).map((d) => d.label), ['boat']);
  });

  it('makes English plurals', () => {
    assert.deepEqual(['dog', 'bus', 'person', 'knife', 'sheep', 'butterfly'].map(pluralLabel), ['Dogs', 'Buses', 'People', 'Knives', 'Sheep', 'Butterflies']);
  });
});

void describe('uniqueNames', () => {
  it('suffixes repeats, skipping names already taken', () => {
    assert.deepEqual(uniqueNames(['June 2023', 'June 2023', 'June 2023 (2)', 'June 2023']), ['June 2023', 'June 2023 (3)', 'June 2023 (2)', 'June 2023 (4)']);
  });
});
