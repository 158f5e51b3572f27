import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBytes, formatCount, formatEta, formatPlace, formatRate, jobTitle, percent } from '../../renderer/src/lib/format.js';

describe('formatting', () => {
  it('counts with singular/plural and thousands separators', () => {
    assert.equal(formatCount(1), '1 photo');
    assert.equal(formatCount(0), '0 photos');
    assert.equal(formatCount(100_000), '100,000 photos');
    assert.equal(formatCount(2, 'folder'), '2 folders');
  });

  it('formats ETAs', () => {
    assert.equal(formatEta(null), '—');
    assert.equal(formatEta(Number.POSITIVE_INFINITY), '—');
    assert.equal(formatEta(12.4), '12 s');
    assert.equal(formatEta(150), '3 min');
    assert.equal(formatEta(3600), '1 h');
    assert.equal(formatEta(3900), '1 h 5 min');
  });

  it('formats rates, sizes and places', () => {
    assert.equal(formatRate(0), '—');
    assert.equal(formatRate(3.14159), '3.1 photos/s');
    assert.equal(formatRate(42.7, 'steps'), '43 steps/s');
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(2_500_000), '2.5 MB');
    assert.equal(formatPlace(null), null);
    assert.equal(formatPlace({ lat: -33.8568, lon: 151.2153 }), '33.8568° S, 151.2153° E');
    assert.equal(formatPlace({ lat: 40.7, lon: -74 }), '40.7000° N, 74.0000° W');
  });

  it('names jobs by kind and stage', () => {
    assert.equal(jobTitle({ kind: 'organize', stage: 'train' }), 'Organizing: training');
    assert.equal(jobTitle({ kind: 'organize', stage: null }), 'Organizing');
    assert.equal(jobTitle({ kind: 'scan', stage: 'scan' }), 'Scanning');
  });

  it('computes clamped percentages', () => {
    assert.equal(percent(1, 3), 33);
    assert.equal(percent(5, 0), null);
    assert.equal(percent(12, 10), 100);
  });
});
