/** Rates of limit groups as people write them and as the server keeps them (per second): a table. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValidationError } from '../src';
import { formatRate, parseRate, RATE_FORMS } from '../src/limits/rates';

test('parseRate: per second, per minute, decimals, numbers; off and null lift the limit', () => {
  const cases: Array<[unknown, number | null]> = [
    ['20/s', 20],
    ['120/m', 2],
    ['0.5/s', 0.5],
    ['.5/s', 0.5],
    ['1/m', 1 / 60],
    ['  3/s ', 3],
    ['1000000/s', 1_000_000],
    [20, 20],
    [0.25, 0.25],
    ['off', null],
    [null, null],
  ];
  for (const [value, perSecond] of cases) assert.equal(parseRate(value), perSecond, JSON.stringify(value));
});

test('parseRate: a malformed rate is refused, naming the value, the flag and the accepted forms', () => {
  const cases: Array<[unknown, string]> = [
    ['20/h', 'the string "20/h" is not a rate'],
    ['20', 'the string "20" is not a rate'],
    ['20/S', 'the string "20/S" is not a rate'],
    ['-1/s', 'the string "-1/s" is not a rate'],
    ['+1/s', 'the string "+1/s" is not a rate'],
    ['1e3/s', 'the string "1e3/s" is not a rate'],
    ['20 /s', 'the string "20 /s" is not a rate'],
    ['fast', 'the string "fast" is not a rate'],
    ['', 'the string "" is not a rate'],
    ['OFF', 'the string "OFF" is not a rate'],
    ['NaN/s', 'the string "NaN/s" is not a rate'],
    ['Infinity/s', 'the string "Infinity/s" is not a rate'],
    [`${'9'.repeat(400)}/s`, 'is not a finite rate'],
    ['0/s', 'the string "0/s" would stop every step of the group (to lift a limit, give off)'],
    ['0.0/m', 'would stop every step of the group'],
    [0, 'number 0 would stop every step of the group'],
    [-1, 'number -1 is negative'],
    [Number.NaN, 'number NaN is not a finite rate'],
    [Number.POSITIVE_INFINITY, 'number Infinity is not a finite rate'],
    [undefined, 'undefined is not a rate'],
    [true, 'boolean true is not a rate'],
    [{ perSecond: 2 }, 'an object is not a rate'],
  ];
  for (const [value, why] of cases) {
    assert.throws(
      () => parseRate(value, '--rate'),
      (err: Error) => {
        assert.ok(err instanceof ValidationError, String(value));
        assert.ok(err.message.startsWith('--rate: '), err.message);
        assert.ok(err.message.includes(why), `${err.message} should say ${why}`);
        assert.ok(err.message.endsWith(`; give ${RATE_FORMS}`), err.message);
        return true;
      },
    );
  }
});

test('formatRate: per second, per minute when that reads better, off; what it prints parses back', () => {
  const cases: Array<[number | null, string]> = [
    [2, '2/s'],
    [20, '20/s'],
    [0.5, '0.5/s'],
    [0.125, '0.125/s'],
    [120 / 60, '2/s'],
    [1 / 60, '1/m'],
    [7 / 60, '7/m'],
    [0.1 + 0.2, '0.3/s'],
    [1 / 3, '20/m'],
    [1 / 7, '0.142857142857/s'],
    [null, 'off'],
  ];
  for (const [perSecond, text] of cases) {
    assert.equal(formatRate(perSecond), text, String(perSecond));
    const back = parseRate(text);
    if (perSecond === null) assert.equal(back, null);
    else assert.ok(Math.abs(back! - perSecond) < 1e-9, `${text} parses back to ${back}`);
  }
});
