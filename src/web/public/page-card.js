// The customer card: unified fields (real-time overrides marked with caller, set time and expiry;
// the source of each merged field), key ring, previous CustomerIds, measures, segments and the
// activity timeline (newest first, filters, 50 at a time). It listens to the change feed (SSE) and
// re-reads the card when a real-time write of this customer commits, so changes show in well
// under a second without a reload.
import { api, ApiFailure, instancePath } from './api.js';
import { announce, errorBox, fill, fmt, h, loading, time } from './dom.js';
import { customerHref, instanceCrumbs } from './common.js';
import { icon, iconFor } from './icons.js';
import { initials } from './page-search.js';

const PAGE = 50;
/** Most activities one read returns (the card API's top limit). */
const MAX_RELOAD = 200;
const NAME_FIELDS = [['FullName'], ['FirstName', 'LastName'], ['Name'], ['DisplayName'], ['Email'], ['EMail']];
const HIDDEN_FIELDS = new Set(['CustomerId', 'PreviousCustomerId']);

export async function render(ctx) {
  const { instanceId, customerId } = ctx.params;
  const cardUrl = instancePath(instanceId, `/card/${encodeURIComponent(customerId)}`);
  ctx.setTitle('Customer');
  void instanceCrumbs(ctx, [{ label: 'Customers', href: `#/i/${encodeURIComponent(instanceId)}` }, { label: customerId }]);

  const state = {
    card: null,
    activities: [],
    nextSkip: null,
    types: [],
    filters: { types: new Set(ctx.query.getAll('type')), from: ctx.query.get('from') ?? '', to: ctx.query.get('to') ?? '' },
    showEmpty: false,
    fresh: new Set(),
    changedFields: new Set(),
  };

  const el = {
    head: h('section', { class: 'panel card-head', 'aria-labelledby': 'card-name' }),
    fields: h('section', { class: 'panel', id: 'fields', 'aria-labelledby': 'fields-h' }),
    keyring: h('section', { class: 'panel', id: 'keyring', 'aria-labelledby': 'keyring-h' }),
    measures: h('section', { class: 'panel', id: 'measures', 'aria-labelledby': 'measures-h' }),
    segments: h('section', { class: 'panel', id: 'segments', 'aria-labelledby': 'segments-h' }),
    timeline: h('section', { class: 'panel timeline-panel', id: 'timeline', 'aria-labelledby': 'timeline-h' }),
    live: h('span', { class: 'live-status', id: 'live-status', role: 'status' }, 'Connecting…'),
  };
  const list = h('ol', { class: 'timeline', id: 'timeline-list' });
  const more = h('div', { class: 'more' });
  const filterBar = h('form', { class: 'filters', id: 'timeline-filters', 'aria-label': 'Filter the timeline' });
  const summary = h('p', { class: 'muted small', id: 'timeline-count', 'aria-live': 'polite' });
  filterBar.addEventListener('submit', (e) => e.preventDefault());
  fill(ctx.main, loading('Loading the customer…'));

  // ---- data --------------------------------------------------------------------------------
  const query = (skip, top = PAGE) => {
    const q = new URLSearchParams({ top: String(top), skip: String(skip) });
    if (state.filters.types.size) q.set('activityType', [...state.filters.types].join(','));
    if (state.filters.from) q.set('from', dayStart(state.filters.from));
    if (state.filters.to) q.set('to', dayStart(state.filters.to, 1));
    return `${cardUrl}?${q}`;
  };

  try {
    state.card = await api(query(0), { signal: ctx.signal });
  } catch (err) {
    if (ctx.signal.aborted) return;
    if (err instanceof ApiFailure && err.status === 404) {
      fill(ctx.main, h('h1', null, 'Customer not found'), h('p', null, err.message), h('p', null, h('a', { href: `#/i/${encodeURIComponent(instanceId)}` }, 'Search customers')));
      return;
    }
    fill(ctx.main, h('h1', null, 'Customer'), errorBox(err, () => ctx.go(location.hash)));
    return;
  }
  if (state.card.customerId && state.card.customerId !== customerId) {
    // The id was a previous CustomerId: show the profile under its current id.
    ctx.go(customerHref(instanceId, state.card.customerId), { replace: true });
    return;
  }
  takeActivities(state.card.activities, false);

  fill(
    ctx.main,
    el.head,
    h('div', { class: 'card-grid' }, h('div', { class: 'card-col' }, el.fields, el.keyring, el.measures, el.segments), h('div', { class: 'card-col' }, el.timeline)),
  );
  renderAll();

  function takeActivities(page, append) {
    const rows = page?.value ?? [];
    state.activities = append ? [...state.activities, ...rows.filter((a) => !state.activities.some((b) => b.ActivityId === a.ActivityId))] : rows;
    state.nextSkip = page?.nextSkip ?? null;
    if (page?.types) state.types = page.types;
  }

  /**
   * Re-reads the card after a change: fields and key ring replaced; the timeline read again as far
   * as it was loaded (at most 200), so new activities appear on top and paging stays right.
   */
  async function reload(changes) {
    const loaded = state.activities.length;
    let card;
    try {
      card = await api(query(0, Math.min(MAX_RELOAD, Math.max(PAGE, loaded))), { signal: ctx.signal });
    } catch (err) {
      if (!ctx.signal.aborted) console.warn('card reload failed', err);
      return;
    }
    const before = new Map(state.card.fields.map((f) => [f.name, JSON.stringify([f.value, f.override])]));
    state.changedFields = new Set(card.fields.filter((f) => before.get(f.name) !== JSON.stringify([f.value, f.override])).map((f) => f.name));
    state.card = card;
    const known = new Set(state.activities.map((a) => a.ActivityId));
    const page = card.activities?.value ?? [];
    const added = page.filter((a) => !known.has(a.ActivityId));
    state.fresh = new Set(added.map((a) => a.ActivityId));
    let older = [];
    if (loaded > MAX_RELOAD && card.activities?.nextSkip != null) {
      // Beyond what one read returns, the pages loaded before stay below (in the rare case that
      // this many are open at once).
      const inPage = new Set(page.map((a) => a.ActivityId));
      const oldest = page.length ? Date.parse(page[page.length - 1].ActivityTime) : Infinity;
      older = state.activities.filter((a) => !inPage.has(a.ActivityId) && Date.parse(a.ActivityTime) <= oldest);
    }
    state.activities = [...page, ...older];
    state.nextSkip = card.activities?.nextSkip == null ? null : state.activities.length;
    if (card.activities?.types && card.activities.types.join('\u0000') !== state.types.join('\u0000')) {
      state.types = card.activities.types;
      const focused = filterBar.contains(document.activeElement) ? document.activeElement.dataset.type : undefined;
      renderFilters();
      if (focused !== undefined) filterBar.querySelector(`[data-type="${CSS.escape(focused)}"]`)?.focus();
    }
    renderHead();
    renderFields();
    renderKeyring();
    renderMeasures();
    renderSegments();
    renderTimeline();
    const parts = [];
    if (state.changedFields.size) parts.push(`${[...state.changedFields].join(', ')} updated`);
    if (added.length) parts.push(`${added.length} new ${added.length === 1 ? 'activity' : 'activities'}`);
    if (parts.length) announce(parts.join('; '));
    return changes;
  }

  // ---- live updates --------------------------------------------------------------------------
  let pending = null;
  let batch = [];
  const schedule = (change) => {
    batch.push(change);
    if (pending) return;
    // Writes that arrive together (one grouped commit) become one re-read.
    pending = setTimeout(() => {
      pending = null;
      const changes = batch;
      batch = [];
      void reload(changes);
    }, 15);
  };
  let everOpen = false;
  const source = new EventSource(`${instancePath(instanceId, '/changes')}?customerId=${encodeURIComponent(customerId)}`);
  const setLive = (status, text) => {
    el.live.dataset.state = status;
    fill(el.live, h('span', { class: 'dot', 'aria-hidden': 'true' }), text);
  };
  source.addEventListener('open', () => {
    setLive('live', 'Live');
    // After a reconnect, writes may have been missed: read again.
    if (everOpen) schedule({ kind: 'reconnect' });
    everOpen = true;
  });
  source.addEventListener('change', (e) => {
    try {
      schedule(JSON.parse(e.data));
    } catch {
      schedule({ kind: 'unknown' });
    }
  });
  // The server may have missed changes (its connection to the other servers was lost): read again.
  source.addEventListener('reload', () => schedule({ kind: 'reload' }));
  source.addEventListener('error', () => setLive(source.readyState === EventSource.CLOSED ? 'off' : 'connecting', source.readyState === EventSource.CLOSED ? 'Not live (reload to retry)' : 'Reconnecting…'));
  setLive('connecting', 'Connecting…');
  ctx.onLeave(() => {
    source.close();
    if (pending) clearTimeout(pending);
  });

  // ---- rendering -------------------------------------------------------------------------------
  function renderAll() {
    renderHead();
    renderFields();
    renderKeyring();
    renderMeasures();
    renderSegments();
    renderTimeline();
  }

  function value(name) {
    return state.card.fields.find((f) => f.name === name)?.value;
  }

  function displayName() {
    for (const names of NAME_FIELDS) {
      const parts = names.map(value).filter((v) => v !== null && v !== undefined && v !== '');
      if (parts.length) return parts.join(' ');
    }
    return state.card.customerId;
  }

  function renderHead() {
    const name = displayName();
    ctx.setTitle(name);
    const contact = [
      ['mail', value('Email') ?? value('EMail')],
      ['phone', value('Phone') ?? value('Mobile')],
      ['pin', [value('City'), value('Country')].filter(Boolean).join(', ') || null],
    ].filter(([, v]) => v);
    const overrides = state.card.fields.filter((f) => f.override).length;
    fill(
      el.head,
      h('span', { class: 'avatar large', 'aria-hidden': 'true' }, initials(name)),
      h(
        'div',
        { class: 'card-id' },
        h('h1', { id: 'card-name' }, name),
        h('p', { class: 'muted' }, 'CustomerId ', h('code', { id: 'customer-id' }, state.card.customerId)),
        contact.length ? h('ul', { class: 'chips' }, contact.map(([i, v]) => h('li', null, icon(i, { size: 14 }), String(v)))) : null,
      ),
      h(
        'div',
        { class: 'card-status' },
        el.live,
        overrides ? h('span', { class: 'badge realtime' }, icon('bolt', { size: 13 }), `${overrides} real-time ${overrides === 1 ? 'override' : 'overrides'}`) : null,
      ),
    );
  }

  function renderFields() {
    const visible = state.card.fields.filter((f) => !HIDDEN_FIELDS.has(f.name));
    const empty = visible.filter((f) => isEmpty(f.value) && !f.override);
    const shown = state.showEmpty ? visible : visible.filter((f) => !empty.includes(f));
    const toggle = empty.length
      ? h(
          'button',
          {
            type: 'button',
            class: 'button ghost small',
            'aria-expanded': String(state.showEmpty),
            onclick: () => {
              state.showEmpty = !state.showEmpty;
              renderFields();
              el.fields.querySelector('.section-head button')?.focus();
            },
          },
          state.showEmpty ? 'Hide empty fields' : `Show ${empty.length} empty`,
        )
      : null;
    fill(
      el.fields,
      h('div', { class: 'section-head' }, h('h2', { id: 'fields-h' }, 'Profile'), toggle),
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'fields' },
          h('caption', { class: 'sr-only' }, 'Unified fields: value and where it came from'),
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Field and source'), h('th', { scope: 'col' }, 'Value'))),
          h('tbody', null, shown.map(fieldRow)),
        ),
      ),
    );
    state.changedFields = new Set();
  }

  function fieldRow(f) {
    const o = f.override;
    const changed = state.changedFields.has(f.name);
    return h(
      'tr',
      { class: [o && 'overridden', changed && 'flash'], dataset: { field: f.name } },
      h(
        'th',
        { scope: 'row' },
        h('span', { class: 'field-name' }, f.name),
        f.source
          ? h('span', { class: 'field-source', title: 'The source column this merged value came from' }, `${f.source.dataSource} › ${f.source.entity}.${f.source.column}`)
          : null,
      ),
      h(
        'td',
        null,
        h('span', { class: 'value' }, formatValue(f.value, f.type)),
        o
          ? h(
              'div',
              { class: 'override' },
              h('span', { class: 'badge realtime' }, icon('bolt', { size: 12 }), 'Real-time override'),
              h(
                'span',
                { class: 'override-meta' },
                'set by ',
                h('strong', { class: 'override-caller' }, o.caller || 'unnamed caller'),
                ' ',
                time(o.setAt, fmt.relative(o.setAt)),
                ' · expires ',
                time(o.validUntil, fmt.relative(o.validUntil)),
              ),
              h('span', { class: 'override-meta muted' }, 'batch value: ', isEmpty(f.batchValue) ? '—' : formatValue(f.batchValue, f.type)),
            )
          : null,
      ),
    );
  }

  function renderKeyring() {
    const ring = state.card.keyring ?? [];
    const previous = state.card.previousCustomerIds ?? [];
    fill(
      el.keyring,
      h('div', { class: 'section-head' }, h('h2', { id: 'keyring-h' }, 'IDs per source')),
      ring.length
        ? h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'keyring' },
              h('caption', { class: 'sr-only' }, 'Key ring: the source records unified into this profile'),
              h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Source'), h('th', { scope: 'col' }, 'Key'))),
              h('tbody', null, ring.map((k) => h('tr', null, h('td', null, k.DataSourceName, h('span', { class: 'muted' }, ` › ${k.EntityName}`)), h('td', null, h('code', null, k.AlternateValue))))),
            ),
          )
        : h('p', { class: 'empty muted' }, 'No source keys.'),
      h('h3', null, 'Previous CustomerIds'),
      previous.length ? h('ul', { class: 'plain' }, previous.map((id) => h('li', null, h('code', null, id)))) : h('p', { class: 'muted' }, 'None: this profile has kept its id.'),
    );
  }

  function renderMeasures() {
    const measures = state.card.measures ?? [];
    fill(
      el.measures,
      h('div', { class: 'section-head' }, h('h2', { id: 'measures-h' }, 'Measures')),
      measures.length
        ? h('dl', { class: 'measures' }, measures.map((m) => h('div', null, h('dt', null, m.displayName ?? m.name), h('dd', null, formatValue(m.value, m.type)))))
        : h('p', { class: 'empty muted' }, 'None yet.'),
    );
  }

  function renderSegments() {
    const segments = state.card.segments ?? [];
    fill(
      el.segments,
      h('div', { class: 'section-head' }, h('h2', { id: 'segments-h' }, 'Segments')),
      segments.length
        ? h('ul', { class: 'chips' }, segments.map((s) => h('li', { title: s.description ?? '' }, icon('tag', { size: 14 }), typeof s === 'string' ? s : s.displayName ?? s.name)))
        : h('p', { class: 'empty muted' }, 'None yet.'),
    );
  }

  // ---- timeline ----------------------------------------------------------------------------

  async function reloadTimeline() {
    ctx.setQuery({ from: state.filters.from, to: state.filters.to, type: [...state.filters.types] });
    list.setAttribute('aria-busy', 'true');
    try {
      const card = await api(query(0), { signal: ctx.signal });
      state.card = card;
      state.fresh = new Set();
      takeActivities(card.activities, false);
      renderTimeline();
      announce(`${state.activities.length}${state.nextSkip !== null ? '+' : ''} activities shown`);
    } catch (err) {
      if (!ctx.signal.aborted) fill(more, errorBox(err, reloadTimeline));
    } finally {
      list.removeAttribute('aria-busy');
    }
  }

  async function loadMore(button) {
    button.disabled = true;
    button.textContent = 'Loading…';
    const firstNew = state.activities.length;
    try {
      const card = await api(query(state.nextSkip ?? state.activities.length), { signal: ctx.signal });
      takeActivities(card.activities, true);
      state.fresh = new Set();
      renderTimeline();
      // Keyboard users continue at the first activity that was added.
      list.querySelectorAll('.tl-item')[firstNew]?.querySelector('.tl-title')?.focus();
    } catch (err) {
      if (!ctx.signal.aborted) fill(more, errorBox(err, () => renderTimeline()));
    }
  }

  function renderFilters() {
    const types = [...new Set([...state.types, ...state.filters.types])].sort();
    const chip = (label, pressed, onclick, extra) => h('button', { type: 'button', class: 'chip-toggle', 'aria-pressed': String(pressed), onclick, ...extra }, label);
    const from = h('input', { type: 'date', id: 'tl-from', value: state.filters.from, max: state.filters.to || null });
    const to = h('input', { type: 'date', id: 'tl-to', value: state.filters.to, min: state.filters.from || null });
    const onDates = () => {
      state.filters.from = from.value;
      state.filters.to = to.value;
      void reloadTimeline().then(renderFilters);
    };
    from.addEventListener('change', onDates);
    to.addEventListener('change', onDates);
    const filtered = state.filters.types.size || state.filters.from || state.filters.to;
    fill(
      filterBar,
      h(
        'fieldset',
        { class: 'type-filter' },
        h('legend', null, 'Type'),
        h(
          'div',
          { class: 'chip-row' },
          chip('All', state.filters.types.size === 0, () => {
            state.filters.types.clear();
            void reloadTimeline().then(renderFilters);
          }, { 'data-type': '' }),
          types.map((t) =>
            chip([icon(iconFor({ ActivityType: t }), { size: 14 }), t], state.filters.types.has(t), () => {
              if (state.filters.types.has(t)) state.filters.types.delete(t);
              else state.filters.types.add(t);
              void reloadTimeline().then(() => {
                renderFilters();
                filterBar.querySelector(`[data-type="${CSS.escape(t)}"]`)?.focus();
              });
            }, { 'data-type': t }),
          ),
        ),
      ),
      h(
        'fieldset',
        { class: 'date-filter' },
        h('legend', null, 'Date'),
        h('div', { class: 'date-row' }, h('label', { for: 'tl-from' }, 'From'), from, h('label', { for: 'tl-to' }, 'To'), to),
      ),
      filtered
        ? h('button', {
            type: 'button',
            class: 'button ghost small',
            id: 'tl-clear',
            onclick: () => {
              state.filters = { types: new Set(), from: '', to: '' };
              void reloadTimeline().then(renderFilters);
            },
          }, 'Clear filters')
        : null,
    );
  }

  function renderTimeline() {
    if (!el.timeline.contains(list)) {
      fill(el.timeline, h('div', { class: 'section-head' }, h('h2', { id: 'timeline-h' }, 'Activity timeline'), summary), filterBar, list, more);
      renderFilters();
    }
    const items = [];
    let day = null;
    for (const a of state.activities) {
      const d = dayLabel(a.ActivityTime);
      if (d !== day) {
        day = d;
        items.push(h('li', { class: 'tl-day', 'aria-hidden': 'true' }, d));
      }
      items.push(activityItem(a));
    }
    fill(list, items);
    if (!state.activities.length) list.append(h('li', { class: 'empty muted' }, state.filters.types.size || state.filters.from || state.filters.to ? 'No activity matches these filters.' : 'No activities yet.'));
    const n = state.activities.length;
    fill(summary, n ? `${n} ${n === 1 ? 'activity' : 'activities'}${state.nextSkip !== null ? ' so far' : ''}, newest first` : '');
    fill(
      more,
      state.nextSkip !== null
        ? h('button', { type: 'button', class: 'button', id: 'load-more', onclick: (e) => loadMore(e.currentTarget) }, `Load ${PAGE} more`)
        : n > PAGE
          ? h('p', { class: 'muted small' }, 'That is all.')
          : null,
    );
  }

  function activityItem(a) {
    const realtime = a.realtime ?? a.Origin === 'realtime';
    const label = a.ActivityTypeDisplay || a.ActivityType;
    const title = a.Title || label;
    const source = [a.DataSourceName, a.SourceEntityName].filter(Boolean).join(' › ');
    return h(
      'li',
      { class: ['tl-item', realtime && 'realtime', state.fresh.has(a.ActivityId) && 'flash'], dataset: { activityId: a.ActivityId, type: a.ActivityType } },
      h('span', { class: `tl-icon hue-${hue(a.ActivityType)}` }, icon(iconFor(a), { size: 18 })),
      h(
        'div',
        { class: 'tl-body' },
        h('div', { class: 'tl-top' }, h('span', { class: 'tl-type' }, label), time(a.ActivityTime, fmt.dateTime(a.ActivityTime))),
        a.Url && /^https?:\/\//i.test(a.Url)
          ? h('a', { class: 'tl-title', href: a.Url, target: '_blank', rel: 'noopener noreferrer' }, title, icon('external', { size: 13 }), h('span', { class: 'sr-only' }, ' (opens in a new tab)'))
          : h('span', { class: 'tl-title', tabindex: '-1' }, title),
        a.Description && a.Description !== title ? h('p', { class: 'tl-desc' }, a.Description) : null,
        h(
          'div',
          { class: 'tl-meta' },
          realtime
            ? h('span', { class: 'badge realtime' }, icon('bolt', { size: 12 }), 'Real-time', a.caller ? ` · ${a.caller}` : '')
            : null,
          realtime && (a.validUntil || a.ValidUntil) ? h('span', { class: 'muted' }, 'expires ', time(a.validUntil ?? a.ValidUntil, fmt.relative(a.validUntil ?? a.ValidUntil))) : null,
          source ? h('span', { class: 'muted' }, source) : null,
        ),
      ),
    );
  }
}

function isEmpty(v) {
  return v === null || v === undefined || v === '';
}

function formatValue(v, type) {
  if (isEmpty(v)) return h('span', { class: 'muted' }, '—');
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if ((type === 'Edm.DateTimeOffset' || type === 'datetime') && typeof v === 'string' && !Number.isNaN(Date.parse(v))) return time(v);
  if (typeof v === 'number') return fmt.number(v);
  return String(v);
}

/** ISO instant of local midnight of a yyyy-mm-dd date (plus days). */
function dayStart(date, plusDays = 0) {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(y, m - 1, d + plusDays).toISOString();
}

function dayLabel(iso) {
  const d = new Date(iso);
  const today = new Date();
  const yesterday = new Date(Date.now() - 86_400_000);
  const same = (a, b) => a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  if (same(d, today)) return 'Today';
  if (same(d, yesterday)) return 'Yesterday';
  return d.toLocaleDateString(undefined, { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric' });
}

function hue(type) {
  let n = 0;
  for (const ch of String(type)) n = (n * 31 + ch.charCodeAt(0)) >>> 0;
  return n % 6;
}
