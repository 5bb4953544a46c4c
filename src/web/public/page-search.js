// Customer search by name, email, phone or any source key (GET …/search?q=, indexed on the server).
import { api, instancePath } from './api.js';
import { announce, errorBox, fill, h, loading } from './dom.js';
import { customerHref, highlight, instanceCrumbs } from './common.js';
import { icon } from './icons.js';

const MATCHED = { name: 'name', email: 'email', phone: 'phone', key: 'source key', customerId: 'CustomerId', CustomerId: 'CustomerId' };

export async function render(ctx) {
  const { instanceId } = ctx.params;
  const q = ctx.query.get('q') ?? '';
  ctx.setTitle('Customers');
  const input = h('input', { id: 'search-q', type: 'search', name: 'q', value: q, autocomplete: 'off', spellcheck: 'false', placeholder: 'Name, email, phone or source key', 'aria-describedby': 'search-help' });
  const form = h(
    'form',
    { class: 'search-form', role: 'search', 'aria-label': 'Customers' },
    h('label', { for: 'search-q' }, 'Find a customer'),
    h('div', { class: 'input-row' }, input, h('button', { type: 'submit', class: 'button primary' }, icon('search', { size: 16 }), h('span', null, 'Search'))),
    h('p', { id: 'search-help', class: 'help' }, 'Finds names by the start of any word, emails exactly, phone numbers in any format, and any source key or CustomerId.'),
  );
  const results = h('div', { id: 'search-results', class: 'results', 'aria-live': 'polite' });
  fill(ctx.main, h('div', { class: 'page-head' }, h('h1', null, 'Customers')), h('section', { class: 'panel' }, form), results);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const value = input.value.trim();
    ctx.go(`#/i/${encodeURIComponent(instanceId)}/search${value ? `?q=${encodeURIComponent(value)}` : ''}`);
  });
  void instanceCrumbs(ctx, [{ label: 'Customers' }]);
  if (!q) {
    input.focus();
    fill(results, h('p', { class: 'empty muted' }, 'Type what you know about the customer and press Enter.'));
    return;
  }
  fill(results, loading('Searching…'));
  const run = async () => {
    try {
      const body = await api(instancePath(instanceId, `/search?q=${encodeURIComponent(q)}`), { signal: ctx.signal });
      const rows = body.value ?? [];
      announce(rows.length ? `${rows.length} customer${rows.length === 1 ? '' : 's'} found` : 'No customer found');
      if (!rows.length) return fill(results, h('p', { class: 'empty' }, `No customer matches “${q}”.`));
      fill(
        results,
        h('p', { class: 'muted count' }, rows.length === 1 ? '1 customer' : `${rows.length} customers`, body.nextLink || body['@odata.nextLink'] ? ' (first matches; refine the search for others)' : ''),
        h('ul', { class: 'result-list' }, rows.map((r) => row(instanceId, r, q))),
      );
    } catch (err) {
      if (!ctx.signal.aborted) fill(results, errorBox(err, run));
    }
  };
  await run();
}

function row(instanceId, r, q) {
  const name = r.displayName || r.email || r.CustomerId;
  const matchedOn = MATCHED[r.matchedOn] ?? r.matchedOn;
  return h(
    'li',
    null,
    h(
      'a',
      { class: 'result', href: customerHref(instanceId, r.CustomerId) },
      h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(name)),
      h(
        'span',
        { class: 'result-main' },
        h('span', { class: 'result-name' }, r.matchedOn === 'name' ? highlight(name, q) : name),
        h('span', { class: 'result-meta' }, [r.email && h('span', null, icon('mail', { size: 14 }), r.email), r.phone && h('span', null, icon('phone', { size: 14 }), r.phone)]),
      ),
      matchedOn
        ? h('span', { class: 'result-match' }, h('span', { class: 'muted' }, `matched ${matchedOn}`), r.matchedValue && r.matchedOn !== 'name' ? h('code', null, r.matchedValue) : null)
        : null,
    ),
  );
}

export function initials(name) {
  const parts = String(name ?? '?').replace(/@.*/, '').split(/[\s._-]+/).filter(Boolean);
  return ((parts[0]?.[0] ?? '?') + (parts.length > 1 ? parts[parts.length - 1][0] : '')).toUpperCase();
}
