import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  albumName,
  dateRangeLabel,
  mostCommonPlace,
  nameAlbums,
  uniqueNames,
} from '../../../../electron/core/cluster/naming.js';

/** Wall-clock time stored as UTC, as the indexer does for EXIF dates. */
const at = (y: number, month: number, day: number, hour = 12) => Date.UTC(y, month - 1, day, hour);

void describe('dateRangeLabel', () => {
  void it('names a single day in full', () => {
    assert.equal(dateRangeLabel([at(2023, 6, 12, 9), at(2023, 6, 12, 18)]), '12 June 2023');
  });

  void it('names a single month', () => {
    assert.equal(dateRangeLabel([at(2023, 6, 30), at(2023, 6, 1)]), 'June 2023');
  });

  void it('names longer spans by first and last month', () => {
    assert.equal(dateRangeLabel([at(2023, 8, 2), at(2023, 6, 28), at(2023, 7, 4)]), 'Jun 2023 \u2013 Aug 2023');
    assert.equal(dateRangeLabel([at(2022, 12, 31), at(2023, 1, 1)]), 'Dec 2022 \u2013 Jan 2023');
  });

  void it('reads wall-clock fields in UTC, whatever the machine zone', () => {
    // 23:30 on 31 May stays in May even on a machine east of UTC.
    assert.equal(dateRangeLabel([Date.UTC(2023, 4, 31, 23, 30)]), '31 May 2023');
  });

  void it('ignores unknown times and returns null when there are none', () => {
    assert.equal(dateRangeLabel([null, at(2021, 3, 5), undefined, NaN]), '5 March 2021');
    assert.equal(dateRangeLabel([null, undefined]), null);
    assert.equal(dateRangeLabel([]), null);
  });

  void it('ignores a few stray dates in large albums', () => {
    const times = Array.from({ length: 40 }, (_, i) => at(2023, 6, 1 + (i % 28)));
    times.push(at(2009, 1, 1)); // a scan with a wrong date
    assert.equal(dateRangeLabel(times), 'June 2023');
    assert.equal(dateRangeLabel(times, { trim: 0 }), 'Jan 2009 \u2013 Jun 2023');
    // Small albums are not trimmed: every date counts.
    assert.equal(dateRangeLabel([at(2023, 6, 1), at(2023, 6, 2), at(2009, 1, 1)]), 'Jan 2009 \u2013 Jun 2023');
  });
});

void describe('mostCommonPlace', () => {
  void it('picks the most frequent place, alphabetically on ties', () => {
    assert.equal(mostCommonPlace(['Paris', 'Lyon', ' Paris ', null, 'Lyon', 'Paris']), 'Paris');
    assert.equal(mostCommonPlace(['Rome', 'Milan', 'Milan', 'Rome']), 'Milan');
    assert.equal(mostCommonPlace([null, '', '  ', undefined]), null);
  });
});

void describe('albumName', () => {
  void it('combines place and dates', () => {
    const name = albumName({ takenAt: [at(2023, 6, 3), at(2023, 6, 9)], places: ['Paris', 'Paris', null] }, 0);
    assert.equal(name, 'Paris, June 2023');
  });

  void it('falls back to the place, the dates, then "Album N"', () => {
    assert.equal(albumName({ takenAt: [null], places: ['Oslo'] }, 0), 'Oslo');
    assert.equal(albumName({ takenAt: [at(2020, 2, 29)] }, 0), '29 February 2020');
    assert.equal(albumName({ takenAt: [null, null] }, 4), 'Album 5');
  });
});

void describe('nameAlbums', () => {
  void it('makes names unique', () => {
    const june = { takenAt: [at(2023, 6, 3)] };
    const names = nameAlbums([june, { takenAt: [] }, june, june, { takenAt: [] }]);
    assert.deepEqual(names, ['3 June 2023', 'Album 2', '3 June 2023 (2)', '3 June 2023 (3)', 'Album 5']);
  });
});

void describe('uniqueNames', () => {
  void it('skips suffixes that another album already uses', () => {
    assert.deepEqual(uniqueNames(['A', 'A', 'A (2)']), ['A', 'A (3)', 'A (2)']);
    assert.deepEqual(uniqueNames(['B', 'C']), ['B', 'C']);
  });
});
