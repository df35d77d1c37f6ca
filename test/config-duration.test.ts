import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, parseDuration } from '../src/config/duration.js';

test('durations read as operators write them', () => {
  const cases: Array<[string, number]> = [
    ['0', 0],
    ['0s', 0],
    ['500ms', 500],
    ['2s', 2000],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['1.5s', 1500],
    ['0.25m', 15_000],
    ['-1s', -1000],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

test('text that is not a duration is refused', () => {
  for (const text of ['', 'fast', '2', '10', '2 s', ' 2s', '2S', '2sec', 's', '.5s', '1.s', '1d', '2s ', '--1s', '+1s', '1e3ms', 'ms500']) {
    assert.equal(parseDuration(text), undefined, JSON.stringify(text));
  }
});

test('a duration too large to count in milliseconds is refused', () => {
  assert.equal(parseDuration('99999999999999999999h'), undefined);
});

test('durations format to the shortest text that reads back the same', () => {
  const cases: Array<[number, string]> = [
    [0, '0s'],
    [1, '1ms'],
    [500, '500ms'],
    [1000, '1s'],
    [1500, '1s500ms'],
    [60_000, '1m'],
    [90_000, '1m30s'],
    [3_600_000, '1h'],
    [-2000, '-2s'],
  ];
  for (const [ms, text] of cases) {
    assert.equal(formatDuration(ms), text, String(ms));
    assert.equal(parseDuration(text), ms, text);
  }
});
