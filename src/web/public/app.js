// The single-page shell: hash routes (#/…), the session, the header and the instance sub-navigation.
// Each page module exports render(ctx); ctx.signal aborts when the page is left and ctx.onLeave
// registers clean-up (event sources, timers).
import { api, ApiFailure, instancePath, whenUnauthorized } from './api.js';
import { fill, h } from './dom.js';
import { icon } from './icons.js';

const RANK = { Viewer: 1, Contributor: 2, Administrator: 3 };

const routes = [
  { pattern: /^\/signin$/, page: () => import('./page-signin.js'), open: true },
  { pattern: /^\/?$/, page: () => import('./page-instances.js') },
  { pattern: /^\/i\/([^/]+)\/?$/, names: ['instanceId'], page: () => import('./page-search.js'), tab: 'customers' },
  { pattern: /^\/i\/([^/]+)\/search$/, names: ['instanceId'], page: () => import('./page-search.js'), tab: 'customers' },
  { pattern: /^\/i\/([^/]+)\/c\/([^/]+)$/, names: ['instanceId', 'customerId'], page: () => import('./page-card.js'), tab: 'customers' },
  { pattern: /^\/i\/([^/]+)\/runs$/, names: ['instanceId'], page: () => import('./page-runs.js'), tab: 'runs' },
  { pattern: /^\/i\/([^/]+)\/telemetry$/, names: ['instanceId'], page: () => import('./page-telemetry.js'), tab: 'telemetry' },
];

const state = {
  session: null,
  /** instanceId → Promise<role> */
  roles: new Map(),
  /** instanceId → Promise<instance info> */
  instances: new Map(),
  current: null,
  navigations: 0,
};

const main = document.getElementById('main');

function parseHash() {
  const raw = location.hash.startsWith('#/') ? location.hash.slice(1) : '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  return { path, query };
}

export function go(hash, { replace = false } = {}) {
  if (replace) {
    history.replaceState(null, '', hash);
    void route();
  } else if (location.hash === hash) void route();
  else location.hash = hash;
}

/** Replaces the current URL's query without re-rendering (pages keep their state in it). */
export function setQuery(params) {
  const { path } = parseHash();
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    for (const item of Array.isArray(v) ? v : [v]) if (item !== undefined && item !== null && item !== '') q.append(k, String(item));
  }
  const qs = q.toString();
  history.replaceState(null, '', `#${path}${qs ? `?${qs}` : ''}`);
}

async function loadSession() {
  try {
    state.session = await api('/ui/session', { quiet401: true });
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 401) state.session = null;
    else throw err;
  }
  renderWho();
}

function renderWho() {
  const who = document.getElementById('who');
  const s = state.session;
  if (!s) return fill(who);
  const scope = s.instanceId ? `instance ${s.instanceId}` : 'all instances';
  fill(
    who,
    h('span', { class: 'who-key', title: `API key ${s.prefix}… (${s.name}), ${scope}` }, icon('user', { size: 16 }), h('span', { class: 'who-name' }, s.name), h('span', { class: 'badge role' }, s.role)),
    h('button', { type: 'button', class: 'button ghost small', id: 'sign-out', onclick: signOut }, icon('logout', { size: 16 }), h('span', null, 'Sign out')),
  );
}

async function signOut() {
  try {
    await api('/ui/session', { method: 'DELETE' });
  } catch {
    // Signed out either way: the cookie is gone or the session had ended.
  }
  state.session = null;
  state.roles.clear();
  state.instances.clear();
  renderWho();
  go('#/signin');
}

export function signedIn(session) {
  state.session = session;
  state.roles.clear();
  state.instances.clear();
  renderWho();
}

/** The caller's role on an instance: GET …/rbac/myrole where the server has it, else the key's role. */
function roleFor(instanceId) {
  let p = state.roles.get(instanceId);
  if (!p) {
    p = api(instancePath(instanceId, '/rbac/myrole'))
      .then((r) => {
        const names = [r?.role, r?.roleName, ...(Array.isArray(r?.roles) ? r.roles.map((x) => (typeof x === 'string' ? x : x?.name ?? x?.roleName)) : [])].filter((x) => RANK[x]);
        return names.sort((a, b) => RANK[b] - RANK[a])[0] ?? state.session?.role ?? 'Viewer';
      })
      .catch(() => state.session?.role ?? 'Viewer');
    state.roles.set(instanceId, p);
  }
  return p;
}

function instanceInfo(instanceId) {
  let p = state.instances.get(instanceId);
  if (!p) {
    p = api(instancePath(instanceId));
    p.catch(() => state.instances.delete(instanceId));
    state.instances.set(instanceId, p);
  }
  return p;
}

function setCrumbs(items) {
  const nav = document.getElementById('crumbs');
  const list = h('ol');
  items.forEach((item, i) => {
    const last = i === items.length - 1;
    list.append(h('li', null, item.href && !last ? h('a', { href: item.href }, item.label) : h('span', { 'aria-current': last ? 'page' : null }, item.label)));
  });
  fill(nav, items.length ? list : null);
}

function setSubnav(instanceId, active) {
  const nav = document.getElementById('subnav');
  if (!instanceId) {
    nav.hidden = true;
    return fill(nav);
  }
  nav.hidden = false;
  const base = `#/i/${encodeURIComponent(instanceId)}`;
  // On narrow screens the short label shows; the link's accessible name stays the long one.
  const tab = (key, href, label, short, iconName) =>
    h(
      'a',
      { href, class: ['tab', active === key && 'active'], 'aria-current': active === key ? 'page' : null, 'aria-label': label },
      icon(iconName, { size: 16 }),
      h('span', { class: short ? 'long' : null }, label),
      short ? h('span', { class: 'short', 'aria-hidden': 'true' }, short) : null,
    );
  fill(
    nav,
    h(
      'div',
      { class: 'subnav-inner' },
      tab('customers', base, 'Customers', null, 'search'),
      tab('runs', `${base}/runs`, 'Refresh runs', 'Runs', 'refresh'),
      tab('telemetry', `${base}/telemetry`, 'Real-time telemetry', 'Telemetry', 'chart'),
    ),
  );
}

async function route() {
  const { path, query } = parseHash();
  const match = routes.map((r) => ({ r, m: r.pattern.exec(path) })).find((x) => x.m);
  if (state.current) {
    state.current.controller.abort();
    for (const fn of state.current.cleanups) {
      try {
        fn();
      } catch {
        // Clean-up of a page being left must not stop the next one.
      }
    }
    state.current = null;
  }
  const navigation = ++state.navigations;
  if (!match) {
    setCrumbs([{ label: 'Not found' }]);
    setSubnav(null);
    fill(main, h('h1', { tabindex: '-1' }, 'Page not found'), h('p', null, h('a', { href: '#/' }, 'Back to the instances')));
    return;
  }
  const { r, m } = match;
  if (!r.open && !state.session) {
    const next = location.hash && location.hash !== '#/' ? `?next=${encodeURIComponent(location.hash)}` : '';
    history.replaceState(null, '', `#/signin${next}`);
    return route();
  }
  const params = {};
  (r.names ?? []).forEach((name, i) => (params[name] = decodeURIComponent(m[i + 1])));
  const controller = new AbortController();
  const current = { controller, cleanups: [] };
  state.current = current;
  setSubnav(params.instanceId, r.tab);
  const ctx = {
    main,
    params,
    query,
    session: state.session,
    signal: controller.signal,
    onLeave: (fn) => current.cleanups.push(fn),
    setTitle: (title) => (document.title = title ? `${title} · Kindred` : 'Kindred'),
    setCrumbs,
    go,
    setQuery,
    signedIn,
    roleFor,
    instanceInfo,
    canWrite: async (instanceId) => RANK[await roleFor(instanceId)] >= RANK.Contributor,
    /** Remembers that a write was refused, so the page stops offering it. */
    refused: (instanceId) => state.roles.set(instanceId, Promise.resolve('Viewer')),
  };
  try {
    const module = await r.page();
    if (navigation !== state.navigations) return;
    await module.render(ctx);
  } catch (err) {
    if (controller.signal.aborted) return;
    fill(main, h('h1', { tabindex: '-1' }, 'Something went wrong'), h('div', { class: 'alert error', role: 'alert' }, err?.message ?? String(err)));
  }
  // Keyboard and screen-reader users land on the new page's heading (not on the first load).
  if (navigation > 1 && navigation === state.navigations && !controller.signal.aborted) {
    const heading = main.querySelector('h1');
    if (heading && !main.contains(document.activeElement)) {
      heading.setAttribute('tabindex', '-1');
      heading.focus({ preventScroll: true });
    }
  }
}

whenUnauthorized(() => {
  if (!state.session) return;
  state.session = null;
  renderWho();
  const next = location.hash && !location.hash.startsWith('#/signin') ? `?next=${encodeURIComponent(location.hash)}&ended=1` : '?ended=1';
  go(`#/signin${next}`);
});

document.getElementById('skip-link').addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});
window.addEventListener('hashchange', () => void route());

try {
  await loadSession();
} catch (err) {
  fill(main, h('div', { class: 'alert error', role: 'alert' }, `The server did not answer: ${err?.message ?? err}`));
}
await route();
