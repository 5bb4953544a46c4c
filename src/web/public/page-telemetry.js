// Real-time API telemetry: volume over time stacked by the chosen group, latency p50/p95/p99, the
// error codes, and totals, for a chosen range (uPlot, served from node_modules by this server).
import { api, ApiFailure, instancePath } from './api.js';
import { errorBox, fill, fmt, h, loading } from './dom.js';
import { instanceCrumbs } from './common.js';
import { icon } from './icons.js';

const RANGES = [
  ['15m', 'Last 15 minutes', 15 * 60_000],
  ['1h', 'Last hour', 3_600_000],
  ['6h', 'Last 6 hours', 6 * 3_600_000],
  ['24h', 'Last 24 hours', 24 * 3_600_000],
  ['7d', 'Last 7 days', 7 * 86_400_000],
  ['30d', 'Last 30 days', 30 * 86_400_000 - 120_000],
];
const GROUPS = [
  ['caller', 'Caller'],
  ['method', 'Operation'],
  ['entity', 'Entity'],
  ['result', 'Result (2xx/4xx/5xx)'],
  ['errorCode', 'Error code'],
  ['none', 'Nothing (total)'],
];
const MAX_SERIES = 8;
const PALETTE = ['--hue-0', '--hue-1', '--hue-2', '--hue-3', '--hue-4', '--hue-5', '--muted', '--warn'];

let uplotLoading = null;
/** Loads uPlot's script and style once (only this page needs them). */
function loadUplot() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  uplotLoading ??= new Promise((resolve, reject) => {
    document.head.append(h('link', { rel: 'stylesheet', href: '/ui/vendor/uplot.css' }));
    const script = h('script', { src: '/ui/vendor/uplot.js' });
    script.addEventListener('load', () => resolve(window.uPlot));
    script.addEventListener('error', () => {
      uplotLoading = null;
      reject(new Error('the chart library (uPlot) did not load'));
    });
    document.head.append(script);
  });
  return uplotLoading;
}

export async function render(ctx) {
  const { instanceId } = ctx.params;
  ctx.setTitle('Real-time telemetry');
  void instanceCrumbs(ctx, [{ label: 'Real-time telemetry' }]);
  const range = RANGES.some((r) => r[0] === ctx.query.get('range')) ? ctx.query.get('range') : '1h';
  const groupBy = GROUPS.some((g) => g[0] === ctx.query.get('groupBy')) ? ctx.query.get('groupBy') : 'caller';
  let live = ctx.query.get('live') !== '0';

  const rangeSelect = h('select', { id: 'tm-range' }, RANGES.map(([v, label]) => h('option', { value: v, selected: v === range }, label)));
  const groupSelect = h('select', { id: 'tm-group' }, GROUPS.map(([v, label]) => h('option', { value: v, selected: v === groupBy }, label)));
  const liveBox = h('input', { type: 'checkbox', id: 'tm-live', checked: live });
  const updated = h('span', { class: 'muted small', id: 'tm-updated', 'aria-live': 'off' });
  const controls = h(
    'form',
    { class: 'controls panel', 'aria-label': 'Telemetry range and grouping' },
    h('div', { class: 'control' }, h('label', { for: 'tm-range' }, 'Range'), rangeSelect),
    h('div', { class: 'control' }, h('label', { for: 'tm-group' }, 'Stack by'), groupSelect),
    h('div', { class: 'control check' }, liveBox, h('label', { for: 'tm-live' }, 'Update every 5 s')),
    h('div', { class: 'control' }, updated),
  );
  controls.addEventListener('submit', (e) => e.preventDefault());
  const tiles = h('div', { class: 'tiles', id: 'tm-totals' });
  const volume = h('div', { class: 'chart', id: 'tm-volume', role: 'img' });
  const latency = h('div', { class: 'chart', id: 'tm-latency', role: 'img' });
  const groups = h('div', { id: 'tm-groups' });
  const errorsBox = h('div', { id: 'tm-errors' });
  const message = h('div', { id: 'tm-message' });
  const body = h(
    'div',
    { id: 'tm-body' },
    tiles,
    h(
      'div',
      { class: 'chart-grid' },
      h('section', { class: 'panel', 'aria-labelledby': 'tm-volume-h' }, h('div', { class: 'section-head' }, h('h2', { id: 'tm-volume-h' }, 'Requests'), h('span', { class: 'muted small', id: 'tm-interval' })), volume, groups),
      h(
        'div',
        null,
        h('section', { class: 'panel', 'aria-labelledby': 'tm-latency-h' }, h('div', { class: 'section-head' }, h('h2', { id: 'tm-latency-h' }, 'Latency'), h('span', { class: 'muted small' }, 'milliseconds per HTTP request')), latency),
        h('section', { class: 'panel', 'aria-labelledby': 'tm-errors-h' }, h('h2', { id: 'tm-errors-h' }, 'Error codes'), errorsBox),
      ),
    ),
  );
  fill(
    ctx.main,
    h('div', { class: 'page-head' }, h('h1', null, 'Real-time telemetry'), h('p', { class: 'muted' }, 'Calls to the real-time data API of this instance: who calls, how much, how fast, and what fails.')),
    controls,
    message,
    body,
  );

  if (!(await ctx.canWrite(instanceId))) {
    body.hidden = true;
    controls.hidden = true;
    fill(message, h('div', { class: 'alert info', id: 'tm-role-note' }, 'Telemetry is shown to the Contributor and Administrator roles; this key has the Viewer role.'));
    return;
  }

  let uPlot;
  try {
    uPlot = await loadUplot();
  } catch (err) {
    fill(message, errorBox(err));
    return;
  }
  const charts = { volume: null, latency: null };
  const observer = new ResizeObserver(() => {
    for (const [key, el] of [['volume', volume], ['latency', latency]]) if (charts[key]) charts[key].setSize({ width: el.clientWidth, height: chartHeight() });
  });
  observer.observe(volume);
  observer.observe(latency);
  let timer = null;
  ctx.onLeave(() => {
    clearTimeout(timer);
    observer.disconnect();
    charts.volume?.destroy();
    charts.latency?.destroy();
  });

  const state = { range, groupBy };
  const load = async () => {
    clearTimeout(timer);
    const span = RANGES.find((r) => r[0] === state.range)[2];
    const to = new Date();
    const from = new Date(to.getTime() - span);
    const q = (g) => `${instancePath(instanceId, '/telemetry/realtime')}?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}&groupBy=${g}`;
    try {
      const [grouped, total] = await Promise.all([api(q(state.groupBy), { signal: ctx.signal }), state.groupBy === 'none' ? null : api(q('none'), { signal: ctx.signal })]);
      fill(message);
      draw(grouped, total ?? grouped);
      fill(updated, `Updated ${fmt.time(new Date().toISOString())}`);
    } catch (err) {
      if (ctx.signal.aborted) return;
      if (err instanceof ApiFailure && err.status === 403) {
        ctx.refused(instanceId);
        body.hidden = true;
        fill(message, h('div', { class: 'alert info', id: 'tm-role-note' }, err.message));
        return;
      }
      fill(message, errorBox(err, load));
    }
    if (live && !ctx.signal.aborted) timer = setTimeout(load, 5000);
  };

  const onChange = () => {
    state.range = rangeSelect.value;
    state.groupBy = groupSelect.value;
    live = liveBox.checked;
    ctx.setQuery({ range: state.range, groupBy: state.groupBy, live: live ? undefined : '0' });
    void load();
  };
  rangeSelect.addEventListener('change', onChange);
  groupSelect.addEventListener('change', onChange);
  liveBox.addEventListener('change', onChange);

  function draw(grouped, total) {
    const t = total.totals;
    const errorRate = t.requests ? (t.errors / t.requests) * 100 : 0;
    const minutes = (Date.parse(total.to) - Date.parse(total.from)) / 60_000;
    fill(
      tiles,
      tile('Requests', fmt.number(t.requests), `${fmt.number(Math.round((t.requests / Math.max(1, minutes)) * 10) / 10)} per minute`, 'tm-requests'),
      tile('Errors', fmt.number(t.errors), t.requests ? `${errorRate.toFixed(errorRate < 10 ? 1 : 0)} % of requests` : 'no requests', 'tm-errors-total', t.errors > 0),
      tile('Latency p95', t.p95 === null ? '—' : `${fmtMs(t.p95)}`, t.p50 === null ? '' : `p50 ${fmtMs(t.p50)} · p99 ${fmtMs(t.p99)}`, 'tm-p95'),
      tile('Data in / out', `${fmt.bytes(t.bytesIn)}`, `out ${fmt.bytes(t.bytesOut)}`, 'tm-bytes'),
    );
    fill(document.getElementById('tm-interval'), `${grouped.interval} buckets`);

    // Volume: the largest groups stacked, the rest summed as "other".
    const xs = (total.series[0]?.buckets ?? grouped.series[0]?.buckets ?? []).map((b) => Date.parse(b.start) / 1000);
    const ranked = grouped.series.map((s) => ({ key: s.key, requests: s.buckets.map((b) => b.requests), total: s.buckets.reduce((n, b) => n + b.requests, 0), errors: s.buckets.reduce((n, b) => n + b.errors, 0), bytesIn: s.buckets.reduce((n, b) => n + b.bytesIn, 0) }));
    ranked.sort((a, b) => b.total - a.total || a.key.localeCompare(b.key));
    let shown = ranked.slice(0, MAX_SERIES);
    if (ranked.length > MAX_SERIES) {
      const rest = ranked.slice(MAX_SERIES - 1);
      shown = [...ranked.slice(0, MAX_SERIES - 1), { key: `other (${rest.length})`, requests: xs.map((_, i) => rest.reduce((n, s) => n + (s.requests[i] ?? 0), 0)), total: rest.reduce((n, s) => n + s.total, 0) }];
    }
    if (!xs.length) shown = [];
    const raw = [xs, ...shown.map((s) => s.requests)];
    const stacked = stack(raw);
    const colors = shown.map((_, i) => cssVar(PALETTE[i % PALETTE.length]));
    const groupLabel = GROUPS.find((g) => g[0] === grouped.groupBy)?.[1] ?? grouped.groupBy;
    volume.setAttribute('aria-label', `Requests per ${grouped.interval}, stacked by ${groupLabel.toLowerCase()}: ${shown.map((s) => `${s.key} ${s.total}`).join(', ') || 'none'}`);
    // Each group is a bar from 0 to its running total; drawn from the top of the stack down, so
    // every lower group paints over the ones above it and the bars read as stacked.
    const order = shown.map((_, i) => i).reverse();
    const bars = uPlot.paths.bars({ size: [0.72, 48], gap: 1 });
    charts.volume?.destroy();
    charts.volume = new uPlot(
      {
        width: volume.clientWidth || 600,
        height: chartHeight(),
        series: [
          { value: (u, v) => (v === null ? '—' : fmt.dateTime(new Date(v * 1000).toISOString())) },
          ...order.map((i) => ({
            label: grouped.groupBy === 'none' ? 'requests' : shown[i].key,
            stroke: colors[i],
            fill: colors[i],
            width: 0,
            paths: bars,
            points: { show: false },
            value: (u, v, si, idx) => (idx === null ? '—' : fmt.number(raw[i + 1][idx])),
          })),
        ],
        axes: axes({ y: 'requests' }),
        scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
        legend: { live: true },
        cursor: { points: { show: false } },
      },
      [xs, ...order.map((i) => stacked[i + 1])],
      volume,
    );
    fill(
      groups,
      ranked.length
        ? h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'groups', id: 'tm-group-table' },
              h('caption', { class: 'sr-only' }, `Requests by ${groupLabel.toLowerCase()}`),
              h('thead', null, h('tr', null, h('th', { scope: 'col' }, groupLabel), h('th', { scope: 'col', class: 'num' }, 'Requests'), h('th', { scope: 'col', class: 'num' }, 'Errors'), h('th', { scope: 'col', class: 'num opt' }, 'Data in'))),
              h(
                'tbody',
                null,
                ranked.map((s, i) => {
                  const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
                  swatch.style.setProperty('background', colors[Math.min(i, shown.length - 1)] ?? 'transparent');
                  return h('tr', { dataset: { key: s.key } }, h('th', { scope: 'row' }, swatch, s.key), h('td', { class: 'num' }, fmt.number(s.total)), h('td', { class: 'num' }, fmt.number(s.errors)), h('td', { class: 'num opt' }, fmt.bytes(s.bytesIn)));
                }),
              ),
            ),
          )
        : h('p', { class: 'empty muted' }, 'No real-time API requests in this range.'),
    );

    // Latency of all requests per bucket.
    const buckets = total.series[0]?.buckets ?? [];
    const lat = [buckets.map((b) => Date.parse(b.start) / 1000), buckets.map((b) => b.p50), buckets.map((b) => b.p95), buckets.map((b) => b.p99)];
    const lc = [cssVar('--hue-1'), cssVar('--hue-0'), cssVar('--hue-5')];
    latency.setAttribute('aria-label', `Latency percentiles per ${total.interval}: overall p50 ${fmtMs(t.p50)}, p95 ${fmtMs(t.p95)}, p99 ${fmtMs(t.p99)}`);
    charts.latency?.destroy();
    charts.latency = new uPlot(
      {
        width: latency.clientWidth || 400,
        height: chartHeight(),
        series: [
          { value: (u, v) => (v === null ? '—' : fmt.dateTime(new Date(v * 1000).toISOString())) },
          ...['p50', 'p95', 'p99'].map((name, i) => ({ label: name, stroke: lc[i], width: 2, spanGaps: false, points: { show: buckets.length < 40, size: 4 }, value: (u, v) => (v === null || v === undefined ? '—' : fmtMs(v)) })),
        ],
        axes: axes({ y: 'ms' }),
        scales: { y: { range: (u, min, max) => [0, Math.max(1, (max ?? 1) * 1.15)] } },
        cursor: { points: { size: 6 } },
      },
      lat,
      latency,
    );

    const codes = total.errorCodes ?? grouped.errorCodes ?? [];
    const max = Math.max(1, ...codes.map((c) => c.count));
    fill(
      errorsBox,
      codes.length
        ? h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { id: 'tm-error-table' },
              h('caption', { class: 'sr-only' }, 'Error codes and how often they were answered'),
              h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Code'), h('th', { scope: 'col', class: 'num' }, 'Count'), h('th', { scope: 'col', class: 'bar-cell' }, h('span', { class: 'sr-only' }, 'Share')))),
              h(
                'tbody',
                null,
                codes.map((c) => {
                  const bar = h('div', { class: 'share' });
                  bar.style.setProperty('width', `${(c.count / max) * 100}%`);
                  return h('tr', null, h('th', { scope: 'row' }, h('code', null, c.code)), h('td', { class: 'num' }, fmt.number(c.count)), h('td', { class: 'bar-cell', 'aria-hidden': 'true' }, bar));
                }),
              ),
            ),
          )
        : h('p', { class: 'empty muted' }, icon('activity', { size: 14 }), ' No errors in this range.'),
    );
  }

  await load();
}

function tile(label, value, sub, id, bad = false) {
  return h('div', { class: 'tile', id }, h('div', { class: 'label' }, label), h('div', { class: ['value', bad && 'bad'] }, value), sub ? h('div', { class: 'muted small' }, sub) : null);
}

function fmtMs(v) {
  if (v === null || v === undefined) return '—';
  return v < 1 ? `${v.toFixed(2)} ms` : v < 10 ? `${v.toFixed(1)} ms` : `${fmt.number(Math.round(v))} ms`;
}

function chartHeight() {
  return window.innerWidth < 640 ? 220 : 280;
}

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

/** A colour with opacity, from #rrggbb. */
function alpha(color, a) {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (!m) return color;
  const n = parseInt(m[1], 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

function axes({ y }) {
  const stroke = cssVar('--muted');
  const grid = { stroke: cssVar('--border'), width: 1 };
  const ticks = { stroke: cssVar('--border'), width: 1 };
  return [
    { stroke, grid, ticks },
    { stroke, grid, ticks, label: y, labelSize: 18, size: 52, values: (u, vals) => vals.map((v) => (y === 'ms' ? `${v}` : fmt.number(v))) },
  ];
}

/** Running totals of the series after x: the top of each group's bar in a stacked chart. */
function stack(data) {
  const acc = new Array(data[0].length).fill(0);
  return [data[0], ...data.slice(1).map((series) => series.map((v, j) => (acc[j] += v ?? 0)))];
}
