// Refresh runs: recent runs with status, stage durations as bars on a time axis, record counts,
// issues and errors; start and cancel (Contributor and up); the schedule.
import { api, ApiFailure, instancePath } from './api.js';
import { announce, errorBox, fill, fmt, h, loading, time } from './dom.js';
import { instanceCrumbs } from './common.js';
import { icon } from './icons.js';

const ACTIVE = new Set(['queued', 'running']);
const STATUS_LABEL = { queued: 'Queued', running: 'Running', successful: 'Succeeded', failed: 'Failed', cancelled: 'Cancelled', pending: 'Pending', skipped: 'Skipped' };
const SUMMARY_ORDER = ['recordsRead', 'profiles', 'activities', 'alternateKeys'];

export async function render(ctx) {
  const { instanceId } = ctx.params;
  const jobsUrl = instancePath(instanceId, '/workflows/main/jobs');
  ctx.setTitle('Refresh runs');
  void instanceCrumbs(ctx, [{ label: 'Refresh runs' }]);

  const schedule = h('div', { class: 'schedule', id: 'schedule' });
  const actions = h('div', { class: 'actions', id: 'run-actions' });
  const message = h('div', { id: 'run-message', 'aria-live': 'polite' });
  const list = h('div', { class: 'runs', id: 'runs' }, loading());
  fill(
    ctx.main,
    h('div', { class: 'page-head' }, h('h1', null, 'Refresh runs'), h('p', { class: 'muted' }, 'Each refresh pulls the sources and unifies them into a new generation; readers switch to it only when it succeeds.')),
    h('section', { class: 'panel run-controls', 'aria-label': 'Schedule and actions' }, schedule, actions),
    message,
    list,
  );

  let canWrite = await ctx.canWrite(instanceId);
  const open = new Set();
  let firstRender = true;
  let runs = [];
  let timer = null;
  ctx.onLeave(() => clearTimeout(timer));

  const loadInstance = async () => {
    try {
      const info = await api(instancePath(instanceId), { signal: ctx.signal });
      const s = info.schedule;
      fill(
        schedule,
        h('h2', null, icon('clock', { size: 18 }), 'Schedule'),
        s
          ? h('p', null, 'Runs on cron ', h('code', null, s.cron), s.timezone ? ` (${s.timezone})` : ' (UTC)', s.nextRun ? ['; next ', time(s.nextRun, fmt.relative(s.nextRun)), ` (${fmt.dateTime(s.nextRun)})`] : '.')
          : h('p', null, 'No schedule: refreshes run when started here, from the API or with ', h('code', null, 'kindred refresh'), '.'),
        h('p', { class: 'muted small' }, info.currentGeneration === null ? 'No data yet: the first successful refresh creates it.' : `Readers see generation ${info.currentGeneration}.`),
      );
    } catch (err) {
      if (!ctx.signal.aborted) fill(schedule, errorBox(err));
    }
  };

  const renderActions = () => {
    const active = runs.find((r) => ACTIVE.has(r.jobStatus));
    if (!canWrite) {
      fill(actions, h('p', { class: 'muted small', id: 'role-note' }, icon('user', { size: 14 }), 'Starting and cancelling refreshes needs the Contributor role.'));
      return;
    }
    fill(
      actions,
      h('button', { type: 'button', class: 'button primary', id: 'start-refresh', disabled: Boolean(active), onclick: start }, icon('play', { size: 16 }), 'Start refresh'),
      active ? h('span', { class: 'muted small' }, `A refresh is ${active.jobStatus}.`) : null,
    );
  };

  const start = async () => {
    fill(message);
    try {
      const job = await api(jobsUrl, { method: 'POST' });
      open.add(job.jobId);
      announce('Refresh started');
      await load();
    } catch (err) {
      if (err instanceof ApiFailure && err.status === 403) {
        canWrite = false;
        ctx.refused(instanceId);
      }
      fill(message, errorBox(err));
      await load();
    }
  };

  const cancel = async (job) => {
    fill(message);
    try {
      await api(`${jobsUrl}/${encodeURIComponent(job.jobId)}/cancel`, { method: 'POST' });
      announce('Cancel requested');
    } catch (err) {
      if (err instanceof ApiFailure && err.status === 403) {
        canWrite = false;
        ctx.refused(instanceId);
      }
      fill(message, errorBox(err));
    }
    await load();
  };

  const load = async () => {
    clearTimeout(timer);
    try {
      runs = await api(jobsUrl, { signal: ctx.signal });
      if (firstRender && runs[0]) open.add(runs[0].jobId);
      firstRender = false;
      renderActions();
      renderRuns();
    } catch (err) {
      if (ctx.signal.aborted) return;
      fill(list, errorBox(err, load));
    }
    if (ctx.signal.aborted) return;
    // Active runs are followed closely; otherwise new (scheduled) runs show within half a minute.
    timer = setTimeout(load, runs.some((r) => ACTIVE.has(r.jobStatus)) ? 1000 : 30_000);
  };

  const renderRuns = () => {
    if (!runs.length) return fill(list, h('p', { class: 'empty panel' }, 'No refresh has run yet.'));
    const focused = document.activeElement?.closest?.('[data-job-id]')?.dataset.jobId;
    fill(list, h('h2', { class: 'sr-only' }, 'Recent runs'), durationHistory(runs), runs.map((r) => runItem(r)));
    if (focused) list.querySelector(`[data-job-id="${CSS.escape(focused)}"] summary`)?.focus();
  };

  const runItem = (r) => {
    const duration = runDuration(r);
    const details = h('details', { class: ['panel run', `status-${r.jobStatus}`], open: open.has(r.jobId), dataset: { jobId: r.jobId } });
    details.addEventListener('toggle', () => (details.open ? open.add(r.jobId) : open.delete(r.jobId)));
    const counts = SUMMARY_ORDER.filter((k) => r.summary?.[k] !== undefined).map((k) => `${fmt.number(r.summary[k])} ${label(k)}`);
    details.append(
      h(
        'summary',
        null,
        h('span', { class: `badge status ${r.jobStatus}` }, STATUS_LABEL[r.jobStatus] ?? r.jobStatus),
        h('span', { class: 'run-when' }, time(r.submittedTimestamp, fmt.dateTimeSeconds(r.submittedTimestamp))),
        h('span', { class: 'run-trigger muted' }, r.trigger),
        h('span', { class: 'run-duration' }, icon('clock', { size: 14 }), duration === null ? '—' : fmt.duration(duration)),
        counts.length ? h('span', { class: 'run-counts muted' }, counts.join(' · ')) : null,
      ),
    );
    const body = h('div', { class: 'run-body' });
    if (r.error) body.append(h('div', { class: 'alert error', role: 'note' }, h('strong', null, 'Error: '), r.error));
    if (canWrite && ACTIVE.has(r.jobStatus))
      body.append(h('div', { class: 'actions' }, h('button', { type: 'button', class: 'button danger', dataset: { cancel: r.jobId }, onclick: () => cancel(r) }, icon('stop', { size: 16 }), 'Cancel this refresh')));
    body.append(stageChart(r), stageTable(r));
    body.append(h('p', { class: 'muted small' }, 'Job ', h('code', null, r.jobId)));
    details.append(body);
    return details;
  };

  await Promise.all([loadInstance(), load()]);
}

/** Duration of a run: start to end, or to now while it runs. */
function runDuration(r) {
  if (!r.startTimestamp) return null;
  const end = r.endTimestamp ? Date.parse(r.endTimestamp) : Date.now();
  return end - Date.parse(r.startTimestamp);
}

/** "recordsRead" → "records read"; names with dots (Source.Entity.rows) are shown as they are. */
function label(key) {
  return key.includes('.') ? key : key.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}

/** Bars of the recent runs' durations, oldest to newest, coloured by status. */
function durationHistory(runs) {
  const done = runs.filter((r) => r.startTimestamp).slice(0, 30).reverse();
  if (done.length < 2) return null;
  const max = Math.max(...done.map((r) => runDuration(r) ?? 0), 1);
  const bars = h('div', { class: 'history-bars', role: 'img', 'aria-label': `Durations of the last ${done.length} runs, oldest first; longest ${fmt.duration(max)}` });
  for (const r of done) {
    const d = runDuration(r) ?? 0;
    const bar = h('span', { class: `hbar ${r.jobStatus}`, title: `${fmt.dateTime(r.submittedTimestamp)}: ${STATUS_LABEL[r.jobStatus]}, ${fmt.duration(d)}` });
    bar.style.setProperty('height', `${Math.max(4, (d / max) * 100)}%`);
    bars.append(bar);
  }
  return h('section', { class: 'panel history' }, h('div', { class: 'section-head' }, h('h2', null, 'Recent durations'), h('span', { class: 'muted small' }, `longest ${fmt.duration(max)}`)), bars);
}

const STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000];

/** Stages as bars on a time axis from the run's start. */
function stageChart(r) {
  const stages = r.tasks.filter((t) => t.startTimestamp);
  if (!r.startTimestamp || !stages.length) return h('p', { class: 'muted' }, r.jobStatus === 'queued' ? 'Waiting to start.' : 'No stage has started.');
  const t0 = Date.parse(r.startTimestamp);
  const t1 = Math.max(r.endTimestamp ? Date.parse(r.endTimestamp) : Date.now(), ...stages.map((s) => (s.endTimestamp ? Date.parse(s.endTimestamp) : Date.now())), t0 + 1);
  const span = t1 - t0;
  const step = STEPS.find((s) => span / s <= 6) ?? 3_600_000;
  const pct = (ms) => `${Math.min(100, Math.max(0, (ms / span) * 100))}%`;
  const axis = h('div', { class: 'gantt-axis', 'aria-hidden': 'true' });
  for (let t = 0; t <= span; t += step) {
    const tick = h('span', { class: 'tick' }, fmt.duration(t));
    tick.style.setProperty('left', pct(t));
    axis.append(tick);
  }
  const rows = r.tasks.map((s) => {
    const start = s.startTimestamp ? Date.parse(s.startTimestamp) - t0 : null;
    const end = s.endTimestamp ? Date.parse(s.endTimestamp) - t0 : s.status === 'running' ? Date.now() - t0 : null;
    const track = h('div', { class: 'gantt-track' });
    if (start !== null && end !== null) {
      const bar = h('span', { class: `gantt-bar ${s.status}`, title: `${s.name}: ${fmt.duration(s.durationMs ?? end - start)}` });
      bar.style.setProperty('left', pct(start));
      bar.style.setProperty('width', `max(3px, ${pct(end - start)})`);
      track.append(bar);
    }
    return h(
      'div',
      { class: 'gantt-row', role: 'row' },
      h('span', { class: 'gantt-label', role: 'rowheader' }, s.name),
      h('span', { class: 'gantt-cell', role: 'cell' }, track),
      h('span', { class: 'gantt-dur', role: 'cell' }, s.durationMs !== null ? fmt.duration(s.durationMs) : STATUS_LABEL[s.status] ?? s.status),
    );
  });
  return h(
    'div',
    { class: 'gantt', role: 'table', 'aria-label': `Stage durations on a time axis of ${fmt.duration(span)}` },
    rows,
    h('div', { class: 'gantt-row axis-row', 'aria-hidden': 'true' }, h('span'), axis, h('span')),
  );
}

function stageTable(r) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'stages' },
      h('caption', { class: 'sr-only' }, 'Stages with their record counts and issues'),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Stage'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Counts'), h('th', { scope: 'col' }, 'Issues'))),
      h(
        'tbody',
        null,
        r.tasks.map((s) =>
          h(
            'tr',
            null,
            h('th', { scope: 'row' }, s.name),
            h('td', null, h('span', { class: `badge status ${s.status}` }, STATUS_LABEL[s.status] ?? s.status)),
            h('td', null, Object.keys(s.counts ?? {}).length ? h('div', { class: 'counts' }, Object.entries(s.counts).map(([k, v]) => h('span', { class: 'count' }, h('strong', null, fmt.number(v)), ` ${label(k)}`))) : h('span', { class: 'muted' }, '—')),
            h(
              'td',
              null,
              s.error ? h('p', { class: 'error-text' }, s.error) : null,
              (s.issues ?? []).length
                ? (s.issues ?? []).map((i) =>
                    h('details', { class: 'issue' }, h('summary', null, `${fmt.number(i.count)} × ${i.message}`), i.samples?.length ? h('ul', { class: 'samples' }, i.samples.map((x) => h('li', null, h('code', null, x)))) : null),
                  )
                : s.error
                  ? null
                  : h('span', { class: 'muted' }, 'none'),
            ),
          ),
        ),
      ),
    ),
  );
}
