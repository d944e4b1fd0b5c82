// Small DOM helpers: element creation without innerHTML (nothing from the API is ever
// parsed as HTML), unique ids, and visually hidden text for accessible names.

let seq = 0;

/** A document-unique id with a readable prefix. */
export function uid(prefix = 'id') {
  seq += 1;
  return `${prefix}-${seq}`;
}

/** Append children (strings, nodes, arrays, null/false skipped). */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false || c === true) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/**
 * `h('button', {class: 'btn', onclick: fn, 'aria-expanded': 'false'}, 'text', child)`.
 * Boolean attributes take true/false; `value`, `checked` and `selected` set properties.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  const props = {};
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'value' || k === 'checked' || k === 'selected') props[k] = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  Object.assign(el, props);
  return el;
}

/** Text only screen readers (and accessible-name computation) see. */
export function srOnly(text) {
  return h('span', { class: 'sr-only' }, text);
}

/** Remove every child. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Elements inside `root` that Tab can reach. */
export function focusables(root) {
  const sel = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';
  return [...root.querySelectorAll(sel)].filter((el) => {
    if (el.closest('[hidden]') || el.closest('[inert]')) return false;
    const r = el.getClientRects();
    return r.length > 0;
  });
}

/** Format epoch ms as a local date and time. */
export function fmtTime(ms) {
  if (!ms && ms !== 0) return '';
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** Format a byte count. */
export function fmtBytes(n) {
  if (typeof n !== 'number') return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** Format a duration in seconds. */
export function fmtDuration(s) {
  if (typeof s !== 'number') return '';
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = Math.floor(s % 60);
  if (d) return `${d}d ${hh}h ${mm}m`;
  if (hh) return `${hh}h ${mm}m ${ss}s`;
  if (mm) return `${mm}m ${ss}s`;
  return `${ss}s`;
}
