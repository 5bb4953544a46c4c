// The instances the key can see, with links to each one's pages.
import { api } from './api.js';
import { errorBox, fill, fmt, h, loading, time } from './dom.js';
import { icon } from './icons.js';

export async function render(ctx) {
  ctx.setTitle('Instances');
  ctx.setCrumbs([{ label: 'Instances' }]);
  const list = h('div', { class: 'instance-list' }, loading());
  fill(ctx.main, h('div', { class: 'page-head' }, h('h1', null, 'Instances'), h('p', { class: 'muted' }, 'Each instance unifies the customers of its own data sources.')), list);
  const load = async () => {
    fill(list, loading());
    try {
      const instances = await api('/api/instances', { signal: ctx.signal });
      if (!instances.length) return fill(list, h('p', { class: 'empty' }, 'No instances yet. Register one with ', h('code', null, 'kindred instance apply FILE'), '.'));
      fill(list, instances.map(card));
    } catch (err) {
      if (!ctx.signal.aborted) fill(list, errorBox(err, load));
    }
  };
  await load();
}

function card(i) {
  const base = `#/i/${encodeURIComponent(i.instanceId)}`;
  return h(
    'article',
    { class: 'panel instance' },
    h('div', { class: 'instance-title' }, icon('database', { size: 22 }), h('h2', null, h('a', { href: base }, i.name)), h('code', { class: 'muted' }, i.instanceId)),
    i.description ? h('p', { class: 'muted' }, i.description) : null,
    h(
      'dl',
      { class: 'facts' },
      h('div', null, h('dt', null, 'Data'), h('dd', null, i.currentGeneration === null ? 'not refreshed yet' : `generation ${i.currentGeneration}`)),
      h('div', null, h('dt', null, 'Schedule'), h('dd', null, i.schedule ? h('code', null, i.schedule.cron) : 'on demand', i.schedule?.nextRun ? [' · next ', time(i.schedule.nextRun, fmt.relative(i.schedule.nextRun))] : null)),
      h('div', null, h('dt', null, 'Updated'), h('dd', null, time(i.lastModifiedTime))),
    ),
    h(
      'div',
      { class: 'actions' },
      h('a', { class: 'button', href: base }, icon('search', { size: 16 }), 'Customers'),
      h('a', { class: 'button', href: `${base}/runs` }, icon('refresh', { size: 16 }), 'Refresh runs'),
      h('a', { class: 'button', href: `${base}/telemetry` }, icon('chart', { size: 16 }), 'Telemetry'),
    ),
  );
}
