import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSimilar, precisionThreshold, similarity } from '../../src/domain/similarity.js';

describe('similarity', () => {
  it('is (L - distance) / L', () => {
    assert.equal(similarity('kitten', 'sitting'), (7 - 3) / 7);
    assert.equal(similarity('flaw', 'lawn'), (4 - 2) / 4);
    assert.equal(similarity('abc', 'xyz'), 0);
    assert.equal(similarity('abc', 'abd'), 2 / 3);
  });
  it('is symmetric', () => {
    assert.equal(similarity('sitting', 'kitten'), similarity('kitten', 'sitting'));
  });
  it('is 1 for identical non-empty strings', () => {
    assert.equal(similarity('john', 'john'), 1);
  });
  it('is 0 when either string is empty (empty never matches)', () => {
    assert.equal(similarity('', ''), 0);
    assert.equal(similarity('', 'a'), 0);
    assert.equal(similarity('a', ''), 0);
  });
});

describe('precisionThreshold', () => {
  it('maps named precisions', () => {
    assert.equal(precisionThreshold('exact'), 1);
    assert.equal(precisionThreshold('low'), 0.3);
    assert.equal(precisionThreshold('medium'), 0.6);
    assert.equal(precisionThreshold('high'), 0.8);
  });
  it('passes numbers through', () => {
    assert.equal(precisionThreshold(0.75), 0.75);
    assert.equal(precisionThreshold(1), 1);
  });
  it('rejects invalid values', () => {
    assert.throws(() => precisionThreshold(0), RangeError);
    assert.throws(() => precisionThreshold(1.5), RangeError);
    assert.throws(() => precisionThreshold(Number.NaN), RangeError);
    assert.throws(() => precisionThreshold('toString' as never), RangeError);
  });
});

describe('isSimilar', () => {
  it('agrees with similarity() >= threshold', () => {
    const words = ['kitten', 'sitting', 'smith', 'smyth', 'smithe', 'jon', 'john', 'johnny', 'a', 'abcdefghij', 'abcdefghxx'];
    for (const threshold of [0.3, 0.6, 0.8, 1, 0.75, 0.5]) {
      for (const a of words) {
        for (const b of words) {
          assert.equal(isSimilar(a, b, threshold), similarity(a, b) >= threshold, `${a} / ${b} @ ${threshold}`);
        }
      }
    }
  });
  it('includes the threshold boundary', () => {
    // 8/10 = 0.8 exactly
    assert.equal(isSimilar('abcdefghij', 'abcdefghxx', 0.8), true);
    assert.equal(isSimilar('abcdefghij', 'abcdefgxxx', 0.8), false);
    assert.equal(isSimilar('kitten', 'sitting', 4 / 7), true);
  });
  it('exact threshold requires equality', () => {
    assert.equal(isSimilar('john', 'john', 1), true);
    assert.equal(isSimilar('john', 'jon', 1), false);
  });
  it('rejects on length difference alone', () => {
    // 3 / 10 < 0.6 regardless of content
    assert.equal(isSimilar('abc', 'abcxxxxxxx', 0.6), false);
    assert.equal(isSimilar('abc', 'abcxxxxxxx', 0.3), true);
  });
  it('never matches empty strings', () => {
    assert.equal(isSimilar('', '', 0.3), false);
    assert.equal(isSimilar('', 'a', 0.3), false);
    assert.equal(isSimilar('a', '', 0.3), false);
  });
});
