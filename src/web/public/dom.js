// DOM helpers: pages build elements with h() and set text as text, never as HTML, so data from
// the API can never run as markup.
const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'selected') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** h('a', { href, class, onclick }, 'text', child, [more]) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateTimeSecondsFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });
const numberFormat = new Intl.NumberFormat();
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

export const fmt = {
  dateTime: (iso) => (iso ? dateTimeFormat.format(new Date(iso)) : '—'),
  dateTimeSeconds: (iso) => (iso ? dateTimeSecondsFormat.format(new Date(iso)) : '—'),
  time: (iso) => (iso ? timeFormat.format(new Date(iso)) : '—'),
  number: (n) => (n === null || n === undefined ? '—' : numberFormat.format(n)),
  /** "in 3 h", "5 min ago" */
  relative(iso, now = Date.now()) {
    if (!iso) return '—';
    const diff = (Date.parse(iso) - now) / 1000;
    const abs = Math.abs(diff);
    if (abs < 45) return relativeFormat.format(Math.round(diff), 'second');
    if (abs < 45 * 60) return relativeFormat.format(Math.round(diff / 60), 'minute');
    if (abs < 36 * 3600) return relativeFormat.format(Math.round(diff / 3600), 'hour');
    return relativeFormat.format(Math.round(diff / 86400), 'day');
  },
  duration(ms) {
    if (ms === null || ms === undefined) return '—';
    if (ms < 1000) return `${Math.round(ms)} ms`;
    if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
    const m = Math.floor(ms / 60_000);
    const sec = Math.round((ms % 60_000) / 1000);
    return m < 60 ? `${m} min ${sec} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
  },
  bytes(n) {
    if (n === null || n === undefined) return '—';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
  },
};

/** A <time> element showing a local date-time with the exact ISO value as its machine value and tooltip. */
export function time(iso, text) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: iso, title: iso }, text ?? fmt.dateTime(iso));
}

/** Announces a message to screen readers through the shared live region. */
export function announce(message) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  setTimeout(() => (region.textContent = message), 30);
}

export function errorBox(err, retry) {
  const message = err && err.message ? err.message : String(err);
  return h(
    'div',
    { class: 'alert error', role: 'alert' },
    h('strong', null, err && err.status ? `Error ${err.status}` : 'Error'),
    ' ',
    message,
    retry ? [' ', h('button', { type: 'button', class: 'link', onclick: retry }, 'Try again')] : null,
  );
}

export function loading(label = 'Loading…') {
  return h('p', { class: 'loading muted', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), label);
}
