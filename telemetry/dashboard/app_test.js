// Unit tests of the dashboard's Prometheus parser, rates and formatters (node --test app_test.js;
// registered in meson.build when node is installed). Runs the same app.js the page loads.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { parseMetrics, parseValue, seriesKey, Sample, fmtNum, fmtInt, fmtBits, fmtDuration } = require('./app.js');

test('values as the text format spells them', () => {
  assert.strictEqual(parseValue('42'), 42);
  assert.strictEqual(parseValue('1.5e3'), 1500);
  assert.strictEqual(parseValue('-0.25'), -0.25);
  assert.strictEqual(parseValue('+Inf'), Infinity);
  assert.strictEqual(parseValue('-Inf'), -Infinity);
  assert.ok(Number.isNaN(parseValue('NaN')));
  assert.strictEqual(parseValue('abc'), null);
  assert.strictEqual(parseValue(''), null);
});

test('names, labels, escapes, timestamps, comments', () => {
  const text = [
    '# HELP meshgate_x A help line with "quotes" and {braces}',
    '# TYPE meshgate_x counter',
    'meshgate_x{interface="client",port="0"} 12',
    'meshgate_x{interface="a\\"b\\\\c\\nd", port="1" } 3 1700000000000',
    '  meshgate_plain 7  ',
    'meshgate_empty{} 1',
    'meshgate_trailing_comma{a="1",} 2\r',
    'meshgate_h_bucket{le="+Inf"} 5',
    '',
    'not valid line',
    'meshgate_bad{a=1} 2',
    'meshgate_unclosed{a="x} 2',
  ].join('\n');
  const p = parseMetrics(text);
  assert.strictEqual(p.types.get('meshgate_x'), 'counter');
  const x = p.series.get('meshgate_x');
  assert.strictEqual(x.length, 2);
  assert.deepStrictEqual(x[0], { labels: { interface: 'client', port: '0' }, value: 12 });
  assert.deepStrictEqual(x[1].labels, { interface: 'a"b\\c\nd', port: '1' });
  assert.strictEqual(x[1].value, 3);
  assert.strictEqual(p.series.get('meshgate_plain')[0].value, 7);
  assert.deepStrictEqual(p.series.get('meshgate_empty')[0].labels, {});
  assert.strictEqual(p.series.get('meshgate_trailing_comma')[0].value, 2);
  assert.strictEqual(p.series.get('meshgate_h_bucket')[0].labels.le, '+Inf');
  assert.strictEqual(p.errors, 3);
});

test('the sample exposition parses completely and names only METRICS.md metrics', () => {
  const root = path.join(__dirname, '..', '..');
  const sample = fs.readFileSync(path.join(root, 'tests/integration/telemetry/sample.metrics'), 'utf8');
  const doc = fs.readFileSync(path.join(root, 'telemetry/METRICS.md'), 'utf8');
  const documented = new Set([...doc.matchAll(/^\| `(meshgate_[a-z0-9_]+)`/gm)].map((m) => m[1]));
  const p = parseMetrics(sample);
  assert.strictEqual(p.errors, 0);
  for (const name of p.series.keys()) {
    const base = name.replace(/_(bucket|sum|count)$/, '');
    assert.ok(documented.has(name) || documented.has(base), name + ' is not in METRICS.md');
  }
  assert.strictEqual(p.series.get('meshgate_interface_drops_total').length, 8);
});

test('rates follow counter semantics (reset = increase is the new value)', () => {
  const a = parseMetrics('c{i="x"} 100\nc{i="y"} 50\ng 3\n');
  const b = parseMetrics('c{i="x"} 300\nc{i="y"} 10\ng 5\nc{i="z"} 4\n');
  const s1 = new Sample(a, 1000, null);
  assert.strictEqual(s1.rate('c'), null);
  const s2 = new Sample(b, 3000, s1.snapshot());
  const byI = (i) => s2.rateOf(s2.get('c').find((s) => s.labels.i === i));
  assert.strictEqual(byI('x'), 100);  // +200 in 2 s
  assert.strictEqual(byI('y'), 5);    // reset: 10 in 2 s
  assert.strictEqual(byI('z'), null); // new series
  assert.strictEqual(s2.rate('c'), 105);
  assert.strictEqual(s2.rate('c', (l) => l.i === 'x'), 100);
  assert.strictEqual(s2.sum('c'), 314);
  assert.strictEqual(s2.one('g'), 5);
  const g = s2.groupBy('c', 'i');
  assert.strictEqual(g.get('x').rate, 100);
  assert.strictEqual(g.get('z').value, 4);
  assert.strictEqual(seriesKey('c', { b: '2', a: '1' }), 'c{a="1",b="2"}');
});

test('formatting', () => {
  assert.strictEqual(fmtNum(null), '–');
  assert.strictEqual(fmtNum(0), '0');
  assert.strictEqual(fmtNum(52), '52');
  assert.strictEqual(fmtNum(0.5), '0.5');
  assert.strictEqual(fmtNum(12.34), '12.3');
  assert.strictEqual(fmtNum(999.6), '1000');
  assert.strictEqual(fmtNum(1234), '1.23k');
  assert.strictEqual(fmtNum(999999), '1.00M');
  assert.strictEqual(fmtNum(2.5e9), '2.50G');
  assert.strictEqual(fmtInt(1234567), '1,234,567');
  assert.strictEqual(fmtBits(1.5e6), '1.50 Mbit/s');
  assert.strictEqual(fmtBits(800), '800 bit/s');
  assert.strictEqual(fmtDuration(3725), '1h 2m');
  assert.strictEqual(fmtDuration(59), '59s');
});
