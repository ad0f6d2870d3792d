// meshgate live dashboard: polls /metrics (Prometheus text format 0.0.4, names in
// telemetry/METRICS.md) every second, computes rates between consecutive polls and draws them
// with Chart.js. No framework, no network use beyond its own origin.
//
// parseMetrics() and the formatters are also loaded by node (app_test.js): nothing here touches
// the DOM until start() runs in a browser.
//
// Working on the page without a lab: `python3 tests/integration/telemetry/fake_metrics_server.py`
// serves these files and a /metrics whose counters grow (from sample.metrics); open the URL it
// prints. tests/integration/telemetry/dashboard_cdp.py reads the page the way dashboard_test.sh does.
'use strict';

// ---- Prometheus text format ------------------------------------------------------------------

// parseValue("1.5e3") -> 1500; NaN, +Inf, -Inf as the format spells them; null if not a number.
function parseValue(s) {
  if (s === undefined || s === '') return null;
  if (s === 'NaN') return NaN;
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  const v = Number(s);
  return Number.isNaN(v) ? null : v;
}

// parseMetrics(text) -> { series: Map(name -> [{labels, value}]), types: Map(name -> type),
//                         errors: number of lines that could not be parsed }
// Accepts what Prometheus' text parser accepts: # HELP / # TYPE / other comments, label values
// with \\ \" \n escapes, optional timestamps, blank lines, CRLF.
function parseMetrics(text) {
  const series = new Map();
  const types = new Map();
  let errors = 0;
  const nameRe = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
  const labelRe = /[a-zA-Z_][a-zA-Z0-9_]*/y;
  for (let line of text.split('\n')) {
    if (line.endsWith('\r')) line = line.slice(0, -1);
    let i = 0;
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (i === line.length) continue;
    if (line[i] === '#') {
      const m = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(line.slice(i));
      if (m) types.set(m[1], m[2]);
      continue;
    }
    nameRe.lastIndex = i;
    const nm = nameRe.exec(line);
    if (!nm) { errors++; continue; }
    const name = nm[0];
    i = nameRe.lastIndex;
    const labels = {};
    let ok = true;
    const skipSpace = () => { while (line[i] === ' ' || line[i] === '\t') i++; };
    const afterName = i;
    skipSpace();
    if (line[i] !== '{') i = afterName;
    else {
      i++;
      for (;;) {
        skipSpace();
        if (line[i] === '}') { i++; break; }
        labelRe.lastIndex = i;
        const lm = labelRe.exec(line);
        if (!lm) { ok = false; break; }
        i = labelRe.lastIndex;
        skipSpace();
        if (line[i] !== '=') { ok = false; break; }
        i++;
        skipSpace();
        if (line[i] !== '"') { ok = false; break; }
        i++;
        let v = '';
        let closed = false;
        while (i < line.length) {
          const c = line[i++];
          if (c === '"') { closed = true; break; }
          if (c === '\\' && i < line.length) {
            const e = line[i++];
            v += e === 'n' ? '\n' : e;  // \\ -> \, \" -> ", anything else kept as is
          } else {
            v += c;
          }
        }
        if (!closed) { ok = false; break; }
        labels[lm[0]] = v;
        skipSpace();
        if (line[i] === ',') { i++; continue; }
        if (line[i] === '}') { i++; break; }
        ok = false;
        break;
      }
    }
    if (!ok) { errors++; continue; }
    const rest = line.slice(i).trim().split(/\s+/);
    const value = parseValue(rest[0]);
    if (value === null || (i < line.length && line[i] !== ' ' && line[i] !== '\t')) { errors++; continue; }
    let list = series.get(name);
    if (!list) series.set(name, (list = []));
    list.push({ labels, value });
  }
  return { series, types, errors };
}

// A stable key for one series: name{a="x",b="y"} with the labels sorted.
function seriesKey(name, labels) {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return name;
  return name + '{' + keys.map((k) => k + '=' + JSON.stringify(labels[k])).join(',') + '}';
}

// ---- formatting ------------------------------------------------------------------------------

const SI = ['', 'k', 'M', 'G', 'T', 'P'];

// fmtNum(1234567) -> "1.23M"; below 1000 a plain number with at most 2 decimals ("52", "0.5").
function fmtNum(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const a = Math.abs(v);
  if (a < 1000) {
    const d = a >= 100 ? 0 : a >= 10 ? 1 : 2;
    return String(Number(v.toFixed(d)));
  }
  let e = Math.min(Math.floor(Math.log10(a) / 3), SI.length - 1);
  let s = v / Math.pow(1000, e);
  if (Math.abs(s) >= 999.5 && e < SI.length - 1) { e++; s /= 1000; }
  return s.toPrecision(3) + SI[e];
}

function fmtInt(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  return Math.round(v).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function fmtUnit(v, unit) {
  const s = fmtNum(v);
  if (s === '–') return s;
  return /[kMGTP]$/.test(s) ? s.slice(0, -1) + ' ' + s.slice(-1) + unit : s + ' ' + unit;
}

const fmtBits = (v) => fmtUnit(v, 'bit/s');
const fmtBytes = (v) => fmtUnit(v, 'B');

function fmtDuration(sec) {
  if (sec === null || sec === undefined || Number.isNaN(sec)) return '–';
  sec = Math.max(0, Math.floor(sec));
  const d = Math.floor(sec / 86400), h = Math.floor((sec % 86400) / 3600);
  const m = Math.floor((sec % 3600) / 60), s = sec % 60;
  if (d > 0) return d + 'd ' + h + 'h';
  if (h > 0) return h + 'h ' + m + 'm';
  if (m > 0) return m + 'm ' + s + 's';
  return s + 's';
}

function fmtClock(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
}

// ---- one poll's view: values and rates against the previous poll ----------------------------

// A Sample wraps one parsed /metrics with the previous poll's values, so that rate() follows
// Prometheus' counter semantics (a counter that went down was reset: its increase is its value).
class Sample {
  constructor(parsed, tMs, prev) {
    this.parsed = parsed;
    this.t = tMs;
    this.prev = prev;  // { t, values: Map(key -> value) } or null
    this.values = new Map();
    for (const [name, list] of parsed.series)
      for (const s of list) {
        s.key = seriesKey(name, s.labels);
        this.values.set(s.key, s.value);
      }
  }
  get(name) { return this.parsed.series.get(name) || []; }
  has(name) { return this.parsed.series.has(name); }
  // Sum of the values of `name`'s series that pass `pred` (null if there are none).
  sum(name, pred) {
    let total = null;
    for (const s of this.get(name)) if (!pred || pred(s.labels)) total = (total || 0) + s.value;
    return total;
  }
  one(name) { const l = this.get(name); return l.length ? l[0].value : null; }
  // Per-second rate of one series, null on the first poll or for a series new in this one.
  rateOf(s) {
    if (!this.prev) return null;
    const before = this.prev.values.get(s.key);
    const dt = (this.t - this.prev.t) / 1000;
    if (before === undefined || !(dt > 0)) return null;
    const inc = s.value >= before ? s.value - before : s.value;
    return inc / dt;
  }
  // Sum of the rates of `name`'s series that pass `pred` (null until rates are known).
  rate(name, pred) {
    let total = null;
    for (const s of this.get(name)) {
      if (pred && !pred(s.labels)) continue;
      const r = this.rateOf(s);
      if (r !== null) total = (total || 0) + r;
    }
    if (total === null && this.prev && this.get(name).some((s) => !pred || pred(s.labels))) total = 0;
    return total;
  }
  // { labelValue -> { value, rate } } summed over the series of `name`, grouped by `label`.
  groupBy(name, label, pred) {
    const out = new Map();
    for (const s of this.get(name)) {
      if (pred && !pred(s.labels)) continue;
      const k = s.labels[label] !== undefined ? s.labels[label] : '';
      let g = out.get(k);
      if (!g) out.set(k, (g = { value: 0, rate: this.prev ? 0 : null, labels: s.labels }));
      g.value += s.value;
      const r = this.rateOf(s);
      if (r !== null) g.rate = (g.rate || 0) + r;
    }
    return out;
  }
  snapshot() { return { t: this.t, values: this.values }; }
}

if (typeof module !== 'undefined' && module.exports) {
  module.exports = { parseMetrics, parseValue, seriesKey, Sample, fmtNum, fmtInt, fmtBits, fmtBytes, fmtDuration };
}

// ---- the page --------------------------------------------------------------------------------

const POLL_MS = 1000;
const KEEP_SEC = 300;  // history kept for the longest window
const PALETTE = ['#58a6ff', '#3fb950', '#d29922', '#f778ba', '#a371f7', '#39c5cf', '#ff7b72',
  '#e3b341', '#8b949e', '#56d364', '#79c0ff', '#ffa657'];

// Elements by id; a missing id is ignored so that the page can evolve without breaking the script.
function setText(id, text, value) {
  const el = document.getElementById(id);
  if (!el) return;
  if (el.textContent !== text) el.textContent = text;
  const v = value === null || value === undefined || Number.isNaN(value) ? '' : String(Math.round(value * 1000) / 1000);
  if (el.dataset.value !== v) el.dataset.value = v;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function td(text, cls, field, value) {
  const attrs = { class: cls || '' };
  if (field) attrs['data-field'] = field;
  if (value !== undefined && value !== null && !Number.isNaN(value)) attrs['data-value'] = String(Math.round(value * 1000) / 1000);
  return el('td', attrs, text);
}

function replaceRows(tbodyId, rows, emptyText, cols) {
  const tb = document.getElementById(tbodyId);
  if (!tb) return;
  if (rows.length === 0) rows = [el('tr', { class: 'empty' }, el('td', { colSpan: cols }, emptyText))];
  tb.replaceChildren(...rows);
}

// Colours in order of first appearance (interfaces, reasons...), stable for the page's lifetime.
const colorIndex = new Map();
function colorFor(key) {
  if (!colorIndex.has(key)) colorIndex.set(key, colorIndex.size);
  return PALETTE[colorIndex.get(key) % PALETTE.length];
}

// History of derived series, per chart: Map(key -> [{x: wall ms, y}]).
class History {
  constructor() { this.series = new Map(); }
  push(key, x, y) {
    let a = this.series.get(key);
    if (!a) this.series.set(key, (a = []));
    if (y !== null && y !== undefined && Number.isFinite(y)) a.push({ x, y });
  }
  trim(minX) {
    for (const [k, a] of this.series) {
      let n = 0;
      while (n < a.length && a[n].x < minX) n++;
      if (n) a.splice(0, n);
      if (a.length === 0) this.series.delete(k);
    }
  }
}

class LineChart {
  // opts: { format(v), label(key), dashed(key), order(keys, history) -> keys to draw }
  constructor(canvasId, opts) {
    this.opts = opts;
    this.hist = new History();
    this.chart = null;
    const canvas = document.getElementById(canvasId);
    if (!canvas || typeof Chart === 'undefined') return;
    const fmt = opts.format || fmtNum;
    this.chart = new Chart(canvas, {
      type: 'line',
      data: { datasets: [] },
      options: {
        animation: false,
        parsing: false,
        normalized: true,
        responsive: true,
        maintainAspectRatio: false,
        spanGaps: false,
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        elements: { point: { radius: 0, hitRadius: 6 }, line: { borderWidth: 1.5, tension: 0 } },
        scales: {
          x: { type: 'linear', ticks: { maxTicksLimit: 6, callback: (v) => fmtClock(v) }, grid: { color: '#21262d' } },
          y: { beginAtZero: true, ticks: { maxTicksLimit: 5, callback: (v) => fmt(v) }, grid: { color: '#21262d' } },
        },
        plugins: {
          legend: { position: 'bottom', labels: { boxWidth: 10, boxHeight: 2, font: { size: 11 } } },
          tooltip: {
            callbacks: {
              title: (items) => (items.length ? fmtClock(items[0].parsed.x) : ''),
              label: (item) => item.dataset.label + ': ' + fmt(item.parsed.y),
            },
          },
        },
      },
    });
  }
  draw(nowMs, windowSec) {
    this.hist.trim(nowMs - KEEP_SEC * 1000);
    if (!this.chart) return;
    let keys = [...this.hist.series.keys()];
    if (this.opts.order) keys = this.opts.order(keys, this.hist, nowMs - windowSec * 1000);
    const ds = keys.map((k) => {
      const color = colorFor(this.opts.colorKey ? this.opts.colorKey(k) : k);
      return {
        label: this.opts.label ? this.opts.label(k) : k,
        data: this.hist.series.get(k).slice(),
        borderColor: color,
        backgroundColor: color,
        borderDash: this.opts.dashed && this.opts.dashed(k) ? [5, 3] : [],
      };
    });
    this.chart.data.datasets = ds;
    this.chart.options.scales.x.min = nowMs - windowSec * 1000;
    this.chart.options.scales.x.max = nowMs;
    this.chart.update('none');
  }
}

// Reasons with the most drops over the shown window first; at most `n`.
function topByArea(n) {
  return (keys, hist, minX) => {
    const area = (k) => hist.series.get(k).reduce((s, p) => (p.x >= minX ? s + p.y : s), 0);
    return keys.map((k) => [k, area(k)]).filter(([, a]) => a > 0).sort((a, b) => b[1] - a[1]).slice(0, n).map(([k]) => k);
  };
}

class Dashboard {
  constructor() {
    this.prev = null;
    this.samples = 0;
    this.errors = 0;
    this.windowSec = 180;
    const sel = document.getElementById('window');
    if (sel) {
      this.windowSec = Number(sel.value) || 180;
      sel.addEventListener('change', () => { this.windowSec = Number(sel.value) || 180; this.drawCharts(Date.now()); });
    }
    const ifLabel = (k) => k.replace(/\|/, ' ');
    const ifColor = (k) => k.split('|')[0];
    const isTx = (k) => k.endsWith('|tx');
    this.charts = {
      pps: new LineChart('chart-pps', { label: ifLabel, colorKey: ifColor, dashed: isTx }),
      bps: new LineChart('chart-bps', { label: ifLabel, colorKey: ifColor, dashed: isTx, format: fmtBits }),
      drops: new LineChart('chart-drops', { order: topByArea(6) }),
      sessions: new LineChart('chart-sessions', { dashed: (k) => k === 'new/s' }),
    };
    document.body.dataset.chartjs = typeof Chart !== 'undefined' && Chart.version ? Chart.version : '';
  }

  async poll() {
    const ctl = typeof AbortController !== 'undefined' ? new AbortController() : null;
    const timer = ctl ? setTimeout(() => ctl.abort(), 3000) : null;
    try {
      const resp = await fetch('/metrics', { cache: 'no-store', signal: ctl ? ctl.signal : undefined, headers: { Accept: 'text/plain' } });
      if (!resp.ok) throw new Error('HTTP ' + resp.status);
      const text = await resp.text();
      const t = performance.now();
      const parsed = parseMetrics(text);
      const s = new Sample(parsed, t, this.prev);
      this.prev = s.snapshot();
      this.samples++;
      this.render(s, Date.now());
      this.setStatus('live', 'live' + (parsed.errors ? ' (' + parsed.errors + ' unparsed lines)' : ''));
    } catch (e) {
      this.errors++;
      document.body.dataset.errors = String(this.errors);
      this.setStatus('error', 'no data: ' + (e && e.name === 'AbortError' ? 'timeout' : (e && e.message) || e));
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  setStatus(state, text) {
    document.body.dataset.state = state;
    const st = document.getElementById('status');
    if (st) { st.textContent = text; st.className = 'status ' + state; }
  }

  run() {
    const loop = async () => {
      const started = performance.now();
      await this.poll();
      setTimeout(loop, Math.max(50, POLL_MS - (performance.now() - started)));
    };
    loop();
  }

  drawCharts(now) {
    for (const c of Object.values(this.charts)) c.draw(now, this.windowSec);
  }

  render(s, now) {
    document.body.dataset.samples = String(this.samples);
    setText('samples', String(this.samples), this.samples);
    setText('last-update', fmtClock(now), now / 1000);

    // header
    const bi = s.get('meshgate_build_info')[0];
    setText('build-version', bi ? bi.labels.version || '?' : '–', null);
    const workers = s.one('meshgate_workers');
    setText('workers', fmtNum(workers), workers);
    const up = s.one('meshgate_uptime_seconds');
    setText('uptime', fmtDuration(up), up);

    this.renderTraffic(s, now);
    this.renderDrops(s, now);
    this.renderSessions(s, now);
    this.renderServices(s);
    this.renderSnat(s);
    this.renderTaps(s);
    this.renderConfig(s, now);
    this.renderControl(s);
    this.drawCharts(now);
  }

  renderTraffic(s, now) {
    const rxp = s.rate('meshgate_interface_rx_packets_total');
    const txp = s.rate('meshgate_interface_tx_packets_total');
    const rxb = s.rate('meshgate_interface_rx_bytes_total');
    const txb = s.rate('meshgate_interface_tx_bytes_total');
    setText('rx-pps', fmtNum(rxp), rxp);
    setText('tx-pps', fmtNum(txp), txp);
    // The tiles' labels carry the unit (bits/s); the tables spell it out.
    setText('rx-bps', fmtNum(rxb === null ? null : rxb * 8), rxb === null ? null : rxb * 8);
    setText('tx-bps', fmtNum(txb === null ? null : txb * 8), txb === null ? null : txb * 8);
    const rxpT = s.sum('meshgate_interface_rx_packets_total');
    const txpT = s.sum('meshgate_interface_tx_packets_total');
    const rxbT = s.sum('meshgate_interface_rx_bytes_total');
    const txbT = s.sum('meshgate_interface_tx_bytes_total');
    setText('rx-packets-total', fmtInt(rxpT), rxpT);
    setText('tx-packets-total', fmtInt(txpT), txpT);
    setText('rx-bytes-total', fmtBytes(rxbT), rxbT);
    setText('tx-bytes-total', fmtBytes(txbT), txbT);

    const g = (name) => s.groupBy(name, 'interface');
    const rxP = g('meshgate_interface_rx_packets_total'), txP = g('meshgate_interface_tx_packets_total');
    const rxB = g('meshgate_interface_rx_bytes_total'), txB = g('meshgate_interface_tx_bytes_total');
    const drops = g('meshgate_interface_drops_total');
    const names = [...new Set([...rxP.keys(), ...txP.keys()])].sort();
    const rows = [];
    const v = (m, k, f) => { const x = m.get(k); return x ? x[f] : null; };
    for (const n of names) {
      const r = { rxp: v(rxP, n, 'rate'), txp: v(txP, n, 'rate'), rxb: v(rxB, n, 'rate'), txb: v(txB, n, 'rate') };
      if (r.rxb !== null) r.rxb *= 8;
      if (r.txb !== null) r.txb *= 8;
      const port = (rxP.get(n) || txP.get(n)).labels.port;
      this.charts.pps.hist.push(n + '|rx', now, r.rxp);
      this.charts.pps.hist.push(n + '|tx', now, r.txp);
      this.charts.bps.hist.push(n + '|rx', now, r.rxb);
      this.charts.bps.hist.push(n + '|tx', now, r.txb);
      const dps = drops.has(n) ? drops.get(n).rate : (s.prev ? 0 : null);
      rows.push(el('tr', { 'data-interface': n },
        td(n, '', 'interface'), td(port === undefined ? '' : port, '', 'port'),
        td(fmtNum(r.rxp), 'num', 'rx-pps', r.rxp), td(fmtNum(r.txp), 'num', 'tx-pps', r.txp),
        td(fmtBits(r.rxb), 'num', 'rx-bps', r.rxb), td(fmtBits(r.txb), 'num', 'tx-bps', r.txb),
        td(fmtInt(v(rxP, n, 'value')), 'num', 'rx-packets', v(rxP, n, 'value')),
        td(fmtInt(v(txP, n, 'value')), 'num', 'tx-packets', v(txP, n, 'value')),
        td(fmtNum(dps), 'num' + (dps > 0 ? ' warn' : ''), 'drops-ps', dps)));
    }
    replaceRows('interfaces-table', rows, 'no interfaces in /metrics', 9);
  }

  renderDrops(s, now) {
    const dps = s.rate('meshgate_interface_drops_total');
    const total = s.sum('meshgate_interface_drops_total');
    setText('drops-ps', fmtNum(dps), dps);
    setText('drops-total', fmtInt(total), total);
    const byReason = s.groupBy('meshgate_interface_drops_total', 'reason');
    const list = [...byReason.entries()].filter(([r, g]) => r !== 'none' && (g.value > 0 || g.rate > 0));
    for (const [r, g] of list) this.charts.drops.hist.push(r, now, g.rate);
    // Keep a reason's line going at 0 once it has dropped something (no gap in the chart).
    for (const k of this.charts.drops.hist.series.keys())
      if (!byReason.has(k) && s.prev) this.charts.drops.hist.push(k, now, 0);
    list.sort((a, b) => (b[1].rate || 0) - (a[1].rate || 0) || b[1].value - a[1].value);
    const rows = list.slice(0, 12).map(([r, g]) => el('tr', { 'data-reason': r },
      td(r, '', 'reason'), td(fmtNum(g.rate), 'num' + (g.rate > 0 ? ' warn' : ''), 'drops-ps', g.rate),
      td(fmtInt(g.value), 'num', 'total', g.value)));
    replaceRows('drops-table', rows, 'no drops', 3);
  }

  renderSessions(s, now) {
    const active = s.one('meshgate_sessions_active');
    const created = s.rate('meshgate_sessions_created_total');
    setText('sessions-active', fmtNum(active), active);
    setText('sessions-active-2', fmtInt(active), active);
    setText('sessions-new-ps', fmtNum(created), created);
    setText('sessions-created-ps', fmtNum(created), created);
    const half = s.one('meshgate_sessions_half_open');
    setText('sessions-half-open', fmtInt(half), half);
    const expired = s.rate('meshgate_sessions_expired_total');
    setText('sessions-expired-ps', fmtNum(expired), expired);
    const cookies = s.rate('meshgate_syn_cookies_sent_total');
    setText('syn-cookies-ps', fmtNum(cookies), cookies);
    const n64 = s.rate('meshgate_nat64_translated_total');
    setText('nat64-ps', fmtNum(n64), n64);
    this.charts.sessions.hist.push('active', now, active);
    this.charts.sessions.hist.push('new/s', now, created);
  }

  renderServices(s) {
    const services = new Map();  // service -> { backends: Map(backend -> {...}), total, up }
    const svc = (name) => {
      let x = services.get(name);
      if (!x) services.set(name, (x = { backends: new Map(), total: null, up: null }));
      return x;
    };
    const be = (labels) => {
      const x = svc(labels.service);
      let b = x.backends.get(labels.backend);
      if (!b) x.backends.set(labels.backend, (b = { up: null, conn: null, connRate: null, toBps: null, fromBps: null }));
      return b;
    };
    for (const m of s.get('meshgate_service_backends')) svc(m.labels.service).total = m.value;
    for (const m of s.get('meshgate_service_backends_up')) svc(m.labels.service).up = m.value;
    for (const m of s.get('meshgate_backend_up')) be(m.labels).up = m.value;
    for (const m of s.get('meshgate_backend_connections_total')) {
      const b = be(m.labels);
      b.conn = m.value;
      b.connRate = s.rateOf(m);
    }
    for (const m of s.get('meshgate_backend_bytes_total')) {
      const b = be(m.labels);
      const r = s.rateOf(m);
      const f = m.labels.direction === 'from_backend' ? 'fromBps' : 'toBps';
      if (r !== null) b[f] = (b[f] || 0) + r * 8;
    }
    let up = 0, total = 0, any = false;
    const rows = [];
    for (const name of [...services.keys()].sort()) {
      const x = services.get(name);
      const bUp = x.up !== null ? x.up : [...x.backends.values()].filter((b) => b.up === 1).length;
      const bTotal = x.total !== null ? x.total : x.backends.size;
      up += bUp;
      total += bTotal;
      any = true;
      const cls = bUp === 0 && bTotal > 0 ? 'bad' : bUp < bTotal ? 'warn' : 'ok';
      rows.push(el('tr', { class: 'group', 'data-service': name },
        td(name, '', 'service'), td(fmtInt(bUp) + ' / ' + fmtInt(bTotal) + ' up', cls, 'backends-up', bUp),
        td(''), td(''), td(''), td(''), td('')));
      for (const bname of [...x.backends.keys()].sort()) {
        const b = x.backends.get(bname);
        const state = b.up === null ? '?' : b.up === 1 ? 'up' : 'down';
        rows.push(el('tr', { 'data-service': name, 'data-backend': bname },
          td(''), td(bname, 'mono', 'backend'),
          td(el('span', { class: 'badge ' + (b.up === 1 ? 'ok' : b.up === null ? '' : 'bad') }, state), '', 'state', b.up),
          td(fmtNum(b.connRate), 'num', 'connections-ps', b.connRate), td(fmtInt(b.conn), 'num', 'connections', b.conn),
          td(fmtBits(b.toBps), 'num', 'to-bps', b.toBps), td(fmtBits(b.fromBps), 'num', 'from-bps', b.fromBps)));
      }
    }
    setText('backends-up', any ? fmtInt(up) : '–', any ? up : null);
    setText('backends-total', any ? fmtInt(total) : '–', any ? total : null);
    const tile = document.getElementById('backends-up');
    if (tile) tile.className = 'value' + (any && up < total ? (up === 0 ? ' bad' : ' warn') : '');
    replaceRows('services-table', rows, 'no services configured', 7);
  }

  renderSnat(s) {
    const inUse = s.groupBy('meshgate_snat_ports_in_use', 'pool');
    const cap = s.groupBy('meshgate_snat_ports', 'pool');
    const pools = [...new Set([...inUse.keys(), ...cap.keys()])].sort();
    const totalUse = s.sum('meshgate_snat_ports_in_use');
    const totalCap = s.sum('meshgate_snat_ports');
    setText('snat-in-use', fmtNum(totalUse), totalUse);
    setText('snat-capacity', fmtNum(totalCap), totalCap);
    const rows = pools.map((p) => {
      const u = inUse.has(p) ? inUse.get(p).value : null;
      const c = cap.has(p) ? cap.get(p).value : null;
      const pct = u !== null && c ? (100 * u) / c : null;
      const bar = el('div', { class: 'bar' + (pct > 90 ? ' bad' : pct > 70 ? ' warn' : '') }, el('span'));
      bar.firstChild.style.width = (pct === null ? 0 : Math.min(100, Math.max(pct, u > 0 ? 0.5 : 0))) + '%';
      return el('tr', { 'data-pool': p }, td(p, '', 'pool'), td(fmtInt(u), 'num', 'in-use', u), td(fmtInt(c), 'num', 'capacity', c),
        el('td', { 'data-field': 'utilisation' }, bar, el('span', { class: 'pct' }, pct === null ? '–' : pct.toFixed(pct < 1 ? 2 : 1) + ' %')));
    });
    replaceRows('snat-table', rows, 'no SNAT pools', 4);
  }

  renderTaps(s) {
    const running = s.groupBy('meshgate_tap_running', 'tap');
    const captured = s.groupBy('meshgate_tap_captured_packets_total', 'tap');
    const dropped = s.groupBy('meshgate_tap_dropped_packets_total', 'tap');
    const written = s.groupBy('meshgate_tap_written_bytes_total', 'tap');
    const files = s.groupBy('meshgate_tap_files', 'tap');
    const taps = [...new Set([...running.keys(), ...captured.keys()])].sort();
    const nRunning = s.has('meshgate_tap_running') ? s.sum('meshgate_tap_running') : null;
    const capRate = s.rate('meshgate_tap_captured_packets_total');
    setText('taps-running', nRunning === null ? '–' : fmtInt(nRunning), nRunning);
    setText('taps-captured-ps', fmtNum(capRate), capRate);
    const val = (m, k, f) => (m.has(k) ? m.get(k)[f] : null);
    const rows = taps.map((t) => {
      const r = val(running, t, 'value');
      const d = val(dropped, t, 'value');
      return el('tr', { 'data-tap': t }, td(t, '', 'tap'),
        td(el('span', { class: 'badge ' + (r === 1 ? 'ok' : '') }, r === 1 ? 'running' : r === null ? '?' : 'stopped'), '', 'running', r),
        td(fmtNum(val(captured, t, 'rate')), 'num', 'captured-ps', val(captured, t, 'rate')),
        td(fmtInt(val(captured, t, 'value')), 'num', 'captured', val(captured, t, 'value')),
        td(fmtInt(d), 'num' + (d > 0 ? ' warn' : ''), 'dropped', d),
        td(fmtBytes(val(written, t, 'value')), 'num', 'written-bytes', val(written, t, 'value')),
        td(fmtInt(val(files, t, 'value')), 'num', 'files', val(files, t, 'value')));
    });
    replaceRows('taps-table', rows, 'no taps', 7);
  }

  renderConfig(s, now) {
    const gen = s.one('meshgate_config_generation');
    setText('config-generation', gen === null ? '–' : String(gen), gen);
    setText('config-generation-2', gen === null ? '–' : String(gen), gen);
    const reloads = s.groupBy('meshgate_config_reloads_total', 'result');
    const applied = reloads.has('applied') ? reloads.get('applied').value : (s.has('meshgate_config_reloads_total') ? 0 : null);
    const rejected = reloads.has('rejected') ? reloads.get('rejected').value : (s.has('meshgate_config_reloads_total') ? 0 : null);
    setText('config-reloads-applied', fmtInt(applied), applied);
    setText('config-reloads-rejected', fmtInt(rejected), rejected);
    const ok = s.one('meshgate_config_last_reload_success');
    const ts = s.one('meshgate_config_last_reload_timestamp_seconds');
    const never = !ts && !applied && !rejected;
    const text = ok === null ? '–' : never ? 'none yet' : ok === 1 ? 'applied' : 'rejected';
    for (const id of ['config-last-reload', 'config-last-reload-2']) {
      setText(id, text, ok);
      const e = document.getElementById(id);
      if (e) e.className = text === 'rejected' ? 'bad' : text === 'applied' ? 'ok' : '';
    }
    setText('config-last-reload-time', ts ? fmtClock(ts * 1000) + ' (' + fmtDuration(now / 1000 - ts) + ' ago)' : '–', ts);
  }

  renderControl(s) {
    const r = (id, name) => { const v = s.rate(name); setText(id, fmtNum(v), v); };
    r('icmp-errors-ps', 'meshgate_icmp_errors_sent_total');
    r('icmp-echo-ps', 'meshgate_icmp_echo_replies_total');
    r('punted-ps', 'meshgate_punted_total');
    const nb = s.groupBy('meshgate_neighbors', 'state');
    const nTotal = s.sum('meshgate_neighbors');
    setText('neighbors', nTotal === null ? '–' :
      fmtInt(nTotal) + ([...nb].length ? ' (' + [...nb].filter(([, g]) => g.value > 0).map(([k, g]) => k + ' ' + fmtInt(g.value)).join(', ') + ')' : ''), nTotal);
    const sup = s.one('meshgate_log_suppressed_total');
    setText('log-suppressed', fmtInt(sup), sup);
  }
}

function start() {
  let violations = 0;
  document.addEventListener('securitypolicyviolation', () => {
    violations++;
    document.body.dataset.cspViolations = String(violations);
  });
  if (typeof Chart !== 'undefined') {
    Chart.defaults.color = '#8b949e';
    Chart.defaults.borderColor = '#30363d';
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  }
  const d = new Dashboard();
  window.meshgateDashboard = d;  // for debugging from the console
  d.run();
}

if (typeof document !== 'undefined' && typeof window !== 'undefined') {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
}
