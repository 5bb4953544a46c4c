// Pieces several pages share.
import { h } from './dom.js';

/** Breadcrumbs Instances › {instance} › …rest; the instance's name replaces its id once known. */
export async function instanceCrumbs(ctx, rest) {
  const id = ctx.params.instanceId;
  const base = `#/i/${encodeURIComponent(id)}`;
  const crumbs = (name) => ctx.setCrumbs([{ label: 'Instances', href: '#/' }, { label: name, href: base }, ...rest]);
  crumbs(id);
  try {
    const info = await ctx.instanceInfo(id);
    if (!ctx.signal.aborted) crumbs(info.name);
    return info;
  } catch {
    return null;
  }
}

/** Highlights the first case-insensitive occurrence of `needle` in `text` with <mark>. */
export function highlight(text, needle) {
  const t = String(text ?? '');
  if (!needle) return t;
  const lower = t.toLowerCase();
  const n = String(needle).toLowerCase();
  // Prefer a match at the start of a word (searches match word prefixes).
  const word = new RegExp(`(^|[^\\p{L}\\p{N}])${n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'u').exec(lower);
  const i = word ? word.index + word[1].length : lower.indexOf(n);
  if (i < 0) return t;
  return [t.slice(0, i), h('mark', null, t.slice(i, i + needle.length)), t.slice(i + needle.length)];
}

export const customerHref = (instanceId, customerId) => `#/i/${encodeURIComponent(instanceId)}/c/${encodeURIComponent(customerId)}`;
