// Form building blocks: labelled fields (real <label for>), required markers, hints,
// switches, selects, checkbox groups, counters; client-side checks for the obvious; and
// placing the API's NSX error body next to the fields it names (all problems at once,
// aria-invalid + aria-describedby), the rest in a banner at the top of the form.

import { h, uid, clear } from './dom.js';

/**
 * A labelled field around `control` (an input, select, textarea, or a wrapper whose
 * `control.input` is the labelled element). Returns an object with setError/clearError.
 */
export function field({ label, control, input, required = false, hint, wide = false, extra, className = '' }) {
  const target = input || control;
  if (!target.id) target.id = uid('f');
  const hintId = `${target.id}-hint`;
  const errId = `${target.id}-error`;
  const hintEl = h('div', { class: 'field-hint', id: hintId, hidden: !hint }, hint || '');
  const errEl = h('div', { class: 'field-error', id: errId, hidden: true });
  if (required) target.setAttribute('aria-required', 'true');
  const labelRow = h('div', { class: 'field-label' },
    h('label', { for: target.id }, label),
    required ? h('span', { class: 'req', 'aria-hidden': 'true', title: 'Required' }, '*') : null,
    extra || null);
  const wrap = h('div', { class: `field ${wide ? 'field-wide' : ''} ${className}` },
    labelRow, h('div', { class: 'field-control' }, control), hintEl, errEl);
  const f = {
    wrap, input: target, label, hintEl, errEl,
    setHint(text) {
      hintEl.textContent = text || '';
      hintEl.hidden = !text;
      describe();
    },
    setError(messages) {
      const list = (Array.isArray(messages) ? messages : [messages]).filter(Boolean);
      clear(errEl);
      if (!list.length) { f.clearError(); return; }
      for (const m of list) {
        errEl.append(h('div', { class: 'field-error-line' }, h('span', { class: 'err-icon', 'aria-hidden': 'true' }, '!'), h('span', null, m)));
      }
      errEl.hidden = false;
      target.setAttribute('aria-invalid', 'true');
      wrap.classList.add('has-error');
      describe();
    },
    clearError() {
      clear(errEl);
      errEl.hidden = true;
      target.removeAttribute('aria-invalid');
      wrap.classList.remove('has-error');
      describe();
    },
    visible() {
      return !wrap.hidden && !wrap.closest('[hidden]');
    },
  };
  function describe() {
    const ids = [];
    if (!hintEl.hidden) ids.push(hintId);
    if (!errEl.hidden) ids.push(errId);
    if (ids.length) target.setAttribute('aria-describedby', ids.join(' '));
    else target.removeAttribute('aria-describedby');
  }
  describe();
  return f;
}

/** A text input. */
export function textInput({ value = '', maxlength, placeholder, type = 'text', inputmode, autocomplete = 'off', spellcheck = false }) {
  return h('input', {
    type, class: 'input', value, maxlength: maxlength ? String(maxlength) : null, placeholder,
    inputmode, autocomplete, spellcheck: spellcheck ? 'true' : 'false',
  });
}

/** A select. options: [{value, label, disabled, title}] or [[value, label]]. */
export function select(options, value) {
  const el = h('select', { class: 'input select' });
  setOptions(el, options, value);
  return el;
}

/** Replace a select's options, keeping `value` selected if present. */
export function setOptions(el, options, value) {
  clear(el);
  for (const o of options) {
    const opt = Array.isArray(o) ? { value: o[0], label: o[1] } : o;
    if (opt.group) {
      const g = h('optgroup', { label: opt.group });
      for (const x of opt.options) g.append(h('option', { value: x.value, disabled: !!x.disabled, title: x.title || null }, x.label));
      el.append(g);
    } else {
      el.append(h('option', { value: opt.value, disabled: !!opt.disabled, title: opt.title || null }, opt.label));
    }
  }
  if (value !== undefined && value !== null) el.value = value;
}

/** A switch (checkbox with role=switch) with an Enabled/Disabled state text. */
export function switchInput(checked = true, onText = 'Enabled', offText = 'Disabled') {
  const input = h('input', { type: 'checkbox', role: 'switch', class: 'switch-input', checked: !!checked });
  const state = h('span', { class: 'switch-state', 'aria-hidden': 'true' }, checked ? onText : offText);
  input.addEventListener('change', () => { state.textContent = input.checked ? onText : offText; });
  const wrap = h('span', { class: 'switch' }, input, h('span', { class: 'switch-track', 'aria-hidden': 'true' }, h('span', { class: 'switch-thumb' })), state);
  wrap.input = input;
  wrap.sync = () => { state.textContent = input.checked ? onText : offText; };
  return wrap;
}

/** A textarea with a live `n/max` counter. */
export function textareaWithCounter({ value = '', max = 1024, rows = 2 }) {
  const ta = h('textarea', { class: 'input textarea', rows: String(rows), maxlength: String(max), spellcheck: 'true' });
  ta.value = value;
  const counter = h('span', { class: 'counter' }, `${ta.value.length}/${max}`);
  const update = () => {
    counter.textContent = `${ta.value.length}/${max}`;
    counter.classList.toggle('counter-full', ta.value.length >= max);
  };
  ta.addEventListener('input', update);
  ta.counter = counter;
  ta.updateCounter = update;
  return ta;
}

/** A Description field (max 1024) with its counter next to the label. */
export function descriptionField(value = '') {
  const ta = textareaWithCounter({ value, max: 1024 });
  const f = field({ label: 'Description', control: ta, wide: true, extra: ta.counter });
  ta.counter.id = `${ta.id}-count`;
  return f;
}

/**
 * A group of checkboxes (fieldset/legend). values: [value]; checked: [value].
 * Returns {wrap, get(), set(list), setError, clearError, visible}.
 */
export function checkboxGroup({ legend, values, checked = [], required = false, hint, labelOf = (v) => v }) {
  const gid = uid('grp');
  const errId = `${gid}-error`;
  const hintId = `${gid}-hint`;
  const boxes = values.map((v) => {
    const id = uid('cb');
    const input = h('input', { type: 'checkbox', id, value: v, class: 'checkbox', checked: checked.includes(v) });
    return { v, input, el: h('span', { class: 'check' }, input, h('label', { for: id }, labelOf(v))) };
  });
  const errEl = h('div', { class: 'field-error', id: errId, hidden: true });
  const hintEl = h('div', { class: 'field-hint', id: hintId, hidden: !hint }, hint || '');
  const fs = h('fieldset', { class: 'field field-wide checkgroup', id: gid, 'aria-describedby': hint ? hintId : null },
    h('legend', { class: 'field-label' }, h('span', { class: 'legend-text' }, legend),
      required ? h('span', { class: 'req', 'aria-hidden': 'true' }, '*') : null),
    h('div', { class: 'checks' }, boxes.map((b) => b.el)), hintEl, errEl);
  if (required) fs.setAttribute('aria-required', 'true');
  const g = {
    wrap: fs, input: fs, label: legend,
    get: () => boxes.filter((b) => b.input.checked).map((b) => b.v),
    set: (list) => boxes.forEach((b) => { b.input.checked = list.includes(b.v); }),
    setError(messages) {
      const list = (Array.isArray(messages) ? messages : [messages]).filter(Boolean);
      clear(errEl);
      for (const m of list) errEl.append(h('div', { class: 'field-error-line' }, h('span', { class: 'err-icon', 'aria-hidden': 'true' }, '!'), h('span', null, m)));
      errEl.hidden = !list.length;
      fs.classList.toggle('has-error', !!list.length);
      if (list.length) fs.setAttribute('aria-invalid', 'true'); else fs.removeAttribute('aria-invalid');
      for (const b of boxes) {
        if (list.length) { b.input.setAttribute('aria-invalid', 'true'); b.input.setAttribute('aria-describedby', errId); }
        else { b.input.removeAttribute('aria-invalid'); b.input.removeAttribute('aria-describedby'); }
      }
      const ids = [hint ? hintId : null, list.length ? errId : null].filter(Boolean);
      if (ids.length) fs.setAttribute('aria-describedby', ids.join(' ')); else fs.removeAttribute('aria-describedby');
    },
    clearError() { g.setError([]); },
    visible() { return !fs.closest('[hidden]'); },
    focus() { (boxes[0] && boxes[0].input).focus(); },
  };
  return g;
}

/** A Tags field: `tag` or `scope:tag`, comma-separated. */
export function tagsField(tags = []) {
  const input = textInput({ value: formatTags(tags), placeholder: 'e.g. site-b, env:prod' });
  return field({ label: 'Tags', control: input, wide: true, hint: 'tag or scope:tag, comma-separated (up to 30)' });
}

/** "a, env:prod" -> [{scope: '', tag: 'a'}, {scope: 'env', tag: 'prod'}]. */
export function parseTags(text) {
  return String(text || '').split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    const i = s.indexOf(':');
    return i >= 0 ? { scope: s.slice(0, i).trim(), tag: s.slice(i + 1).trim() } : { scope: '', tag: s };
  });
}

/** The inverse of parseTags. */
export function formatTags(tags) {
  return (tags || []).map((t) => (t.scope ? `${t.scope}:${t.tag}` : t.tag)).join(', ');
}

/** Client-side tag checks (NSX limits): returns a message or null. */
export function checkTags(text) {
  const tags = parseTags(text);
  if (tags.length > 30) return `${tags.length} tags; an object takes at most 30`;
  for (const t of tags) {
    if (!t.tag) return `"${t.scope}:" has no tag after the colon`;
    if (t.tag.length > 256) return 'a tag is longer than 256 characters';
    if (t.scope.length > 128) return 'a scope is longer than 128 characters';
  }
  return null;
}

/** An object id from a display name: URL-safe characters only. */
export function idFromName(name) {
  const id = String(name || '').trim()
    .replace(/[^A-Za-z0-9\-_.:@~+=]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-.]+/, '')
    .replace(/-+$/, '')
    .slice(0, 255);
  if (id) return id;
  return `obj-${Date.now().toString(36)}`;
}

/** Shape check of `address/prefix`. Returns {ip, prefix} or null. */
export function parseCidr(text) {
  const m = /^\s*([0-9A-Fa-f:.]+)\/(\d{1,3})\s*$/.exec(String(text || ''));
  if (!m) return null;
  const ip = m[1];
  const prefix = Number(m[2]);
  const v4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(ip);
  const v6 = ip.includes(':');
  if (!v4 && !v6) return null;
  return { ip, prefix };
}

/** An integer typed by the user: a number when it is one, else the text (the API says why). */
export function intOrText(text) {
  const t = String(text).trim();
  if (t === '') return undefined;
  return /^-?\d+$/.test(t) ? Number(t) : t;
}

// ---------------------------------------------------------------------------------------
// Errors

/**
 * Where a form shows problems. `fields`: [[apiField | [apiFields], fieldObject]]; an API
 * field matches a key exactly or as a prefix followed by `.` or `[`. `banner` is the
 * element at the top of the form. `onReveal(fieldObject)` may open a collapsed section.
 */
export class FormErrors {
  constructor(banner, fields, onReveal) {
    this.banner = banner;
    this.fields = [];
    for (const [keys, f] of fields) {
      for (const k of (Array.isArray(keys) ? keys : [keys])) this.fields.push([k, f]);
    }
    this.fields.sort((a, b) => b[0].length - a[0].length);
    this.onReveal = onReveal || (() => {});
  }

  clear() {
    for (const [, f] of this.fields) f.clearError();
    clear(this.banner);
    this.banner.hidden = true;
  }

  /** The API's wording with the form's labels: `authentication_mode` reads "Authentication
   * Mode", and a `("Pre-shared Key")` naming the field itself is dropped. */
  readable(message, label) {
    let m = String(message || '');
    if (label) m = m.split(` ("${label}")`).join('');
    for (const [k, f] of this.fields) {
      if (!k.includes('_') || !f.label) continue;
      m = m.replace(new RegExp(`\\b${k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`, 'g'), f.label);
    }
    return m;
  }

  fieldFor(apiField) {
    if (!apiField) return null;
    for (const [k, f] of this.fields) {
      if (apiField === k || apiField.startsWith(`${k}.`) || apiField.startsWith(`${k}[`)) return f;
    }
    return null;
  }

  /**
   * Show problems [{field, message}] (client-side or from ApiError.problems) all at once.
   * `banner` text (optional) leads the banner. Returns the first field with a problem.
   */
  show(problems, bannerText) {
    this.clear();
    const byField = new Map();
    const loose = [];
    for (const p of problems) {
      const f = this.fieldFor(p.field);
      if (f) this.onReveal(f);
      if (f && f.visible()) {
        if (!byField.has(f)) byField.set(f, []);
        byField.get(f).push(sentence(f.label, this.readable(p.message, f.label)));
      } else {
        loose.push(p.field ? `${p.field}: ${p.message}` : p.message);
      }
    }
    for (const [f, msgs] of byField) f.setError(msgs);
    if (loose.length || bannerText) {
      const lines = loose.length ? loose : [];
      this.banner.append(
        h('span', { class: 'banner-icon', 'aria-hidden': 'true' }, '!'),
        h('div', { class: 'banner-text' },
          bannerText ? h('p', { class: 'banner-title' }, bannerText) : null,
          lines.length === 1 && !bannerText ? lines[0] : (lines.length ? h('ul', null, lines.map((l) => h('li', null, l))) : null)),
      );
      this.banner.hidden = false;
    }
    const first = [...byField.keys()][0] || null;
    return first;
  }
}

/** "is required; ..." next to the Remote IP field reads "Remote IP is required; ...". */
function sentence(label, message) {
  const m = String(message || '').trim();
  if (/^(is|are|must|has|have|needs|should|cannot|can't|does|was|contains)\b/.test(m)) return `${label} ${m}`;
  return m.charAt(0).toUpperCase() + m.slice(1);
}

/** The banner element forms put at their top. */
export function formBanner() {
  return h('div', { class: 'banner banner-error form-banner', role: 'alert', hidden: true });
}

/** Focus a field object (input, or first checkbox of a group). */
export function focusField(f) {
  if (!f) return;
  if (typeof f.focus === 'function') f.focus();
  else if (f.input) f.input.focus();
}

/**
 * The API's problems for a create that found the id taken (reported on `_revision`, no
 * field of the form): a banner line, and the Name field marked as what to change.
 */
export function createProblems(err, creating, what, id, where) {
  if (!creating || !err.problems.some((p) => p.field === '_revision')) return err.problems;
  return [
    { field: '', message: `${what} with the ID ${id} already exists${where ? ` ${where}` : ''}; choose another name.` },
    { field: 'display_name', message: 'is already taken' },
  ];
}
