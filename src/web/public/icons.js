// Inline SVG icons (24×24 outlines after Feather icons, MIT). Each activity type gets one; its name
// is always shown as text beside it, so the icon is decoration (aria-hidden).
import { s } from './dom.js';

const ICONS = {
  cart: [['circle', { cx: 9, cy: 21, r: 1 }], ['circle', { cx: 20, cy: 21, r: 1 }], ['path', { d: 'M1 1h4l2.68 13.39a2 2 0 0 0 2 1.61h9.72a2 2 0 0 0 2-1.61L23 6H6' }]],
  star: [['polygon', { points: '12 2 15.09 8.26 22 9.27 17 14.14 18.18 21.02 12 17.77 5.82 21.02 7 14.14 2 9.27 8.91 8.26 12 2' }]],
  eye: [['path', { d: 'M1 12s4-8 11-8 11 8 11 8-4 8-11 8-11-8-11-8z' }], ['circle', { cx: 12, cy: 12, r: 3 }]],
  mail: [['path', { d: 'M4 4h16c1.1 0 2 .9 2 2v12c0 1.1-.9 2-2 2H4c-1.1 0-2-.9-2-2V6c0-1.1.9-2 2-2z' }], ['polyline', { points: '22,6 12,13 2,6' }]],
  phone: [['path', { d: 'M22 16.92v3a2 2 0 0 1-2.18 2 19.79 19.79 0 0 1-8.63-3.07 19.5 19.5 0 0 1-6-6 19.79 19.79 0 0 1-3.07-8.67A2 2 0 0 1 4.11 2h3a2 2 0 0 1 2 1.72c.13.96.36 1.9.7 2.81a2 2 0 0 1-.45 2.11L8.09 9.91a16 16 0 0 0 6 6l1.27-1.27a2 2 0 0 1 2.11-.45c.91.34 1.85.57 2.81.7A2 2 0 0 1 22 16.92z' }]],
  message: [['path', { d: 'M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z' }]],
  login: [['path', { d: 'M15 3h4a2 2 0 0 1 2 2v14a2 2 0 0 1-2 2h-4' }], ['polyline', { points: '10 17 15 12 10 7' }], ['line', { x1: 15, y1: 12, x2: 3, y2: 12 }]],
  gift: [['rect', { x: 3, y: 8, width: 18, height: 4 }], ['path', { d: 'M12 8v13' }], ['path', { d: 'M19 12v7a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2v-7' }], ['path', { d: 'M7.5 8a2.5 2.5 0 0 1 0-5C11 3 12 8 12 8s1-5 4.5-5a2.5 2.5 0 0 1 0 5' }]],
  calendar: [['rect', { x: 3, y: 4, width: 18, height: 18, rx: 2 }], ['line', { x1: 16, y1: 2, x2: 16, y2: 6 }], ['line', { x1: 8, y1: 2, x2: 8, y2: 6 }], ['line', { x1: 3, y1: 10, x2: 21, y2: 10 }]],
  activity: [['polyline', { points: '22 12 18 12 15 21 9 3 6 12 2 12' }]],
  bolt: [['polygon', { points: '13 2 3 14 12 14 11 22 21 10 12 10 13 2' }]],
  search: [['circle', { cx: 11, cy: 11, r: 8 }], ['line', { x1: 21, y1: 21, x2: 16.65, y2: 16.65 }]],
  user: [['path', { d: 'M20 21v-2a4 4 0 0 0-4-4H8a4 4 0 0 0-4 4v2' }], ['circle', { cx: 12, cy: 7, r: 4 }]],
  refresh: [['polyline', { points: '23 4 23 10 17 10' }], ['path', { d: 'M20.49 15a9 9 0 1 1-2.12-9.36L23 10' }]],
  chart: [['line', { x1: 18, y1: 20, x2: 18, y2: 10 }], ['line', { x1: 12, y1: 20, x2: 12, y2: 4 }], ['line', { x1: 6, y1: 20, x2: 6, y2: 14 }]],
  database: [['ellipse', { cx: 12, cy: 5, rx: 9, ry: 3 }], ['path', { d: 'M21 12c0 1.66-4 3-9 3s-9-1.34-9-3' }], ['path', { d: 'M3 5v14c0 1.66 4 3 9 3s9-1.34 9-3V5' }]],
  clock: [['circle', { cx: 12, cy: 12, r: 10 }], ['polyline', { points: '12 6 12 12 16 14' }]],
  external: [['path', { d: 'M18 13v6a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h6' }], ['polyline', { points: '15 3 21 3 21 9' }], ['line', { x1: 10, y1: 14, x2: 21, y2: 3 }]],
  play: [['polygon', { points: '5 3 19 12 5 21 5 3' }]],
  stop: [['rect', { x: 6, y: 6, width: 12, height: 12, rx: 1 }]],
  logout: [['path', { d: 'M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4' }], ['polyline', { points: '16 17 21 12 16 7' }], ['line', { x1: 21, y1: 12, x2: 9, y2: 12 }]],
  tag: [['path', { d: 'M20.59 13.41l-7.17 7.17a2 2 0 0 1-2.83 0L2 12V2h10l8.59 8.59a2 2 0 0 1 0 2.82z' }], ['line', { x1: 7, y1: 7, x2: 7.01, y2: 7 }]],
  file: [['path', { d: 'M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8z' }], ['polyline', { points: '14 2 14 8 20 8' }]],
  truck: [['rect', { x: 1, y: 3, width: 15, height: 13 }], ['polygon', { points: '16 8 20 8 23 11 23 16 16 16 16 8' }], ['circle', { cx: 5.5, cy: 18.5, r: 2.5 }], ['circle', { cx: 18.5, cy: 18.5, r: 2.5 }]],
  pin: [['path', { d: 'M21 10c0 7-9 13-9 13s-9-6-9-13a9 9 0 0 1 18 0z' }], ['circle', { cx: 12, cy: 10, r: 3 }]],
  card: [['rect', { x: 1, y: 4, width: 22, height: 16, rx: 2 }], ['line', { x1: 1, y1: 10, x2: 23, y2: 10 }]],
};

/** Icon names of activity definitions (icon: …) mapped to ours; unknown names fall back by type. */
const ALIASES = {
  'shopping-cart': 'cart', shopping: 'cart', purchase: 'cart', order: 'cart', cart: 'cart',
  star: 'star', review: 'star', rating: 'star',
  eye: 'eye', view: 'eye', 'page-view': 'eye', pageview: 'eye', visit: 'eye', web: 'eye', click: 'eye', browse: 'eye',
  mail: 'mail', email: 'mail', newsletter: 'mail',
  phone: 'phone', call: 'phone', sms: 'message',
  message: 'message', chat: 'message', support: 'message', ticket: 'message', case: 'message', complaint: 'message',
  login: 'login', signin: 'login', 'sign-in': 'login', session: 'login', signup: 'user', registration: 'user', user: 'user',
  gift: 'gift', loyalty: 'gift', points: 'gift', reward: 'gift', redeem: 'gift',
  calendar: 'calendar', event: 'calendar', appointment: 'calendar', booking: 'calendar',
  tag: 'tag', coupon: 'tag', discount: 'tag', campaign: 'tag',
  truck: 'truck', shipment: 'truck', delivery: 'truck', shipping: 'truck',
  payment: 'card', invoice: 'file', refund: 'card', subscription: 'card', document: 'file',
};

export function iconFor(activity) {
  const candidates = [activity.Icon, activity.ActivityType, activity.ActivityTypeDisplay].filter(Boolean).map((v) => String(v).toLowerCase());
  for (const c of candidates) {
    if (ALIASES[c]) return ALIASES[c];
    if (ICONS[c]) return c;
  }
  for (const c of candidates) for (const [word, name] of Object.entries(ALIASES)) if (c.includes(word)) return name;
  return 'activity';
}

export function icon(name, { size = 18, label } = {}) {
  const shapes = ICONS[name] ?? ICONS.activity;
  const attrs = { viewBox: '0 0 24 24', width: size, height: size, fill: 'none', stroke: 'currentColor', 'stroke-width': 2, 'stroke-linecap': 'round', 'stroke-linejoin': 'round', class: 'icon', focusable: 'false' };
  if (label) Object.assign(attrs, { role: 'img', 'aria-label': label });
  else attrs['aria-hidden'] = 'true';
  return s('svg', attrs, label ? s('title', null, label) : null, shapes.map(([tag, a]) => s(tag, a)));
}
