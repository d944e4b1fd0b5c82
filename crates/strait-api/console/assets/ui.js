// Reusable widgets: modal dialogs (focus trap, Escape, focus restore, stacking), menu
// buttons (Enter/Space/arrows/Escape), toasts, tables with empty states and expandable
// rows, tab lists with arrow-key navigation, and status badges.

import { h, uid, srOnly, clear, focusables } from './dom.js';

// ---------------------------------------------------------------------------------------
// Dialogs

const stack = [];

function appRoot() {
  return document.getElementById('app');
}

function refreshInert() {
  const app = appRoot();
  if (app) app.inert = stack.length > 0;
  stack.forEach((d, i) => {
    d.layer.inert = i !== stack.length - 1;
  });
}

/**
 * Open a modal dialog. `build(body, dialog)` fills the body; `buttons` go in the footer.
 * Returns {el, body, footer, close(), setBusy(bool)}. `onCancel` runs on Escape, the close
 * button or a Cancel button made with `dialog.cancelButton()`; return false to keep it open.
 */
export function openDialog({ title, className = '', build, onCancel, onClose, initialFocus, describedBy }) {
  const titleId = uid('dlg-title');
  const opener = document.activeElement;
  const body = h('div', { class: 'dialog-body' });
  const footer = h('div', { class: 'dialog-footer' });
  const closeBtn = h('button', { type: 'button', class: 'icon-btn dialog-x' }, h('span', { 'aria-hidden': 'true' }, '\u00d7'), srOnly('Close'));
  const el = h('div', {
    role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': titleId, class: `dialog ${className}`,
    'aria-describedby': describedBy,
  },
  h('div', { class: 'dialog-header' }, h('h2', { id: titleId, class: 'dialog-title' }, title), closeBtn),
  body, footer);
  const layer = h('div', { class: 'modal-layer' }, h('div', { class: 'backdrop' }), el);
  let closed = false;
  const d = {
    el, body, footer, layer, titleId,
    close() {
      if (closed) return;
      closed = true;
      const i = stack.indexOf(d);
      if (i >= 0) stack.splice(i, 1);
      layer.remove();
      refreshInert();
      if (onClose) onClose();
      const target = (opener && opener.isConnected && opener !== document.body) ? opener : null;
      if (target) target.focus();
      else {
        const top = stack[stack.length - 1];
        const f = top ? focusables(top.el)[0] : document.getElementById('main-heading');
        if (f) f.focus();
      }
    },
    cancel() {
      if (onCancel && onCancel() === false) return;
      d.close();
    },
    setBusy(busy) {
      el.setAttribute('aria-busy', busy ? 'true' : 'false');
      for (const b of footer.querySelectorAll('button[type="submit"], .btn-primary')) b.disabled = !!busy;
    },
    cancelButton(label = 'Cancel') {
      return h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => d.cancel() }, label);
    },
    get closed() { return closed; },
  };
  closeBtn.addEventListener('click', () => d.cancel());
  el.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      d.cancel();
    } else if (e.key === 'Tab') {
      const f = focusables(el);
      if (f.length === 0) { e.preventDefault(); return; }
      const first = f[0];
      const last = f[f.length - 1];
      if (e.shiftKey && (document.activeElement === first || !el.contains(document.activeElement))) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (document.activeElement === last || !el.contains(document.activeElement))) {
        e.preventDefault();
        first.focus();
      }
    }
  });
  if (build) build(body, d);
  document.getElementById('dialogs').append(layer);
  hideToasts();
  stack.push(d);
  refreshInert();
  const focusTarget = (typeof initialFocus === 'function' ? initialFocus() : initialFocus)
    || focusables(body)[0] || focusables(footer)[0] || closeBtn;
  focusTarget.focus();
  return d;
}

/** Close every dialog (after a logout or an expired session). */
export function closeAllDialogs() {
  while (stack.length) stack[stack.length - 1].close();
}

/** Hide dialogs without closing them (session expired: they come back after a re-login). */
export function setDialogsHidden(hidden) {
  document.getElementById('dialogs').hidden = hidden;
}

/**
 * A confirmation dialog. Resolves true when `confirmLabel` is chosen, false on Cancel or
 * Escape. `danger` styles the confirm button red.
 */
export function confirmDialog({ title, message, confirmLabel, danger = false }) {
  return new Promise((resolve) => {
    let result = false;
    const msgId = uid('dlg-msg');
    const dlg = openDialog({
      title,
      className: 'dialog-sm',
      describedBy: msgId,
      onClose: () => resolve(result),
      build(body, d) {
        body.append(h('div', { id: msgId, class: 'confirm-message' }, message));
        const ok = h('button', {
          type: 'button', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`,
          onclick: () => { result = true; d.close(); },
        }, confirmLabel);
        d.footer.append(d.cancelButton('Cancel'), ok);
      },
      initialFocus: () => null,
    });
    // Focus the least destructive choice first.
    const cancel = dlg.footer.querySelector('.btn-secondary');
    if (cancel) cancel.focus();
  });
}

/** A Yes/No question. Resolves true for `yes`. */
export function askDialog({ title, message, yes = 'Yes', no = 'No' }) {
  return new Promise((resolve) => {
    let result = false;
    const dlg = openDialog({
      title,
      className: 'dialog-sm',
      onClose: () => resolve(result),
      build(body, d) {
        if (message) body.append(h('div', { class: 'confirm-message' }, message));
        d.footer.append(
          h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => { result = false; d.close(); } }, no),
          h('button', { type: 'button', class: 'btn btn-primary', onclick: () => { result = true; d.close(); } }, yes),
        );
      },
    });
    const y = dlg.footer.querySelector('.btn-primary');
    if (y) y.focus();
  });
}

// ---------------------------------------------------------------------------------------
// Menus

let openMenu = null;

function closeOpenMenu(focusButton) {
  if (!openMenu) return;
  const m = openMenu;
  openMenu = null;
  m.menu.remove();
  m.button.setAttribute('aria-expanded', 'false');
  window.removeEventListener('resize', m.onWindow);
  window.removeEventListener('scroll', m.onWindow, true);
  document.removeEventListener('pointerdown', m.onOutside, true);
  if (focusButton) m.button.focus();
}

/**
 * A button that opens a menu. `content` is the button's visible content, `name` its
 * accessible name (visually hidden when `content` is given). `items()` returns
 * [{label, onSelect, disabled, reason}] each time the menu opens.
 */
export function menuButton({ name, content, className = 'icon-btn', items, ariaLabel = false }) {
  const menuId = uid('menu');
  // Row menus are named with aria-label (so that getByText on a row finds only its visible
  // cells); buttons next to a labelled field use hidden text instead (so that the field's
  // label does not also match the button).
  const button = h('button', {
    type: 'button', class: className, 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-controls': menuId,
    'aria-label': ariaLabel ? name : null, title: ariaLabel ? name : null,
  }, content ? [h('span', { 'aria-hidden': 'true', class: 'btn-content' }, content), ariaLabel ? null : srOnly(name)] : name);

  function itemEls(menu) {
    return [...menu.querySelectorAll('[role="menuitem"]')];
  }

  function open(focusLast) {
    closeOpenMenu(false);
    const menu = h('div', { role: 'menu', id: menuId, class: 'menu', tabindex: '-1' });
    if (ariaLabel) menu.setAttribute('aria-label', name);
    for (const it of items()) {
      const reasonId = it.reason ? uid('menu-reason') : null;
      const item = h('button', {
        type: 'button', role: 'menuitem', tabindex: '-1', class: 'menu-item',
        // The name is the label alone; a reason (why it is disabled) is its description.
        'aria-label': it.reason ? it.label : null,
        'aria-disabled': it.disabled ? 'true' : null, 'aria-describedby': reasonId, title: it.reason || null,
      }, h('span', { class: 'menu-label' }, it.label), it.reason ? h('span', { id: reasonId, class: 'menu-reason' }, it.reason) : null);
      item.addEventListener('click', (e) => {
        e.preventDefault();
        if (it.disabled) return;
        closeOpenMenu(true);
        it.onSelect();
      });
      menu.append(item);
    }
    menu.addEventListener('keydown', (e) => {
      const list = itemEls(menu);
      const i = list.indexOf(document.activeElement);
      if (e.key === 'ArrowDown') { e.preventDefault(); list[(i + 1) % list.length].focus(); }
      else if (e.key === 'ArrowUp') { e.preventDefault(); list[(i - 1 + list.length) % list.length].focus(); }
      else if (e.key === 'Home') { e.preventDefault(); list[0].focus(); }
      else if (e.key === 'End') { e.preventDefault(); list[list.length - 1].focus(); }
      else if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); closeOpenMenu(true); }
      else if (e.key === 'Tab') { e.preventDefault(); closeOpenMenu(true); }
      else if (e.key === ' ' || e.key === 'Enter') {
        e.preventDefault();
        if (document.activeElement && list.includes(document.activeElement)) document.activeElement.click();
      }
    });
    // Inside the topmost dialog (so focus stays trapped there), else inside the app.
    const host = button.closest('[role="dialog"]') || appRoot() || document.body;
    host.append(menu);
    place(menu, button);
    button.setAttribute('aria-expanded', 'true');
    // Scrolling (also the scroll that brings the button into view as it is clicked) moves
    // the menu along; it closes only once its button is out of sight.
    const onWindow = () => {
      const r = button.getBoundingClientRect();
      if (!button.isConnected || r.bottom < 0 || r.top > window.innerHeight || r.width === 0) closeOpenMenu(false);
      else place(menu, button);
    };
    const onOutside = (e) => {
      if (!menu.contains(e.target) && !button.contains(e.target)) closeOpenMenu(false);
    };
    window.addEventListener('resize', onWindow);
    window.addEventListener('scroll', onWindow, true);
    document.addEventListener('pointerdown', onOutside, true);
    openMenu = { menu, button, onWindow, onOutside };
    const list = itemEls(menu);
    const target = focusLast ? list[list.length - 1] : (list.find((x) => x.getAttribute('aria-disabled') !== 'true') || list[0]);
    if (target) target.focus();
    else menu.focus();
  }

  button.addEventListener('click', (e) => {
    e.preventDefault();
    if (openMenu && openMenu.button === button) closeOpenMenu(true);
    else open(false);
  });
  button.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') { e.preventDefault(); open(false); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); open(true); }
  });
  return button;
}

function place(menu, button) {
  const r = button.getBoundingClientRect();
  menu.style.position = 'fixed';
  menu.style.top = '0px';
  menu.style.left = '0px';
  const mw = menu.offsetWidth;
  const mh = menu.offsetHeight;
  let left = r.left;
  if (left + mw > window.innerWidth - 8) left = Math.max(8, r.right - mw);
  let top = r.bottom + 4;
  if (top + mh > window.innerHeight - 8) top = Math.max(8, r.top - mh - 4);
  menu.style.left = `${Math.round(left)}px`;
  menu.style.top = `${Math.round(top)}px`;
}

// ---------------------------------------------------------------------------------------
// Toasts

/** A short message at the bottom right (role=status). */
export function toast(message, kind = 'success') {
  const box = document.getElementById('toasts');
  // With a form open the message is only announced: a floating toast would cover the form's
  // buttons (and what was saved inline is visible in the form anyway).
  const t = h('div', { class: `toast toast-${kind}${stack.length ? ' sr-only' : ''}` }, message);
  box.append(t);
  const shown = [...box.querySelectorAll('.toast:not(.sr-only)')];
  for (const old of shown.slice(0, Math.max(0, shown.length - 2))) old.remove();
  setTimeout(() => t.remove(), kind === 'error' ? 9000 : 4500);
}

/** Hide the floating toasts (a dialog opens over them). */
function hideToasts() {
  const box = document.getElementById('toasts');
  if (box) for (const t of box.querySelectorAll('.toast')) t.classList.add('sr-only');
}

// ---------------------------------------------------------------------------------------
// Tables

/**
 * A data table. columns: [{label, render(row) -> node|string, className}].
 * Options: caption (the accessible name), rows, key(row), empty (node shown when no rows),
 * actions(row) -> node|null (first column), expand: {label(row), render(row) -> node,
 * expanded: Set of keys}.
 */
export function dataTable({ caption, columns, rows, key, empty, actions, expand }) {
  const cols = [];
  if (actions) cols.push({ label: srOnly('Actions'), className: 'col-actions', render: actions });
  if (expand) cols.push({ label: srOnly('Details'), className: 'col-expand', render: null });
  cols.push(...columns);
  const table = h('table', { class: 'data-table' },
    h('caption', { class: 'sr-only' }, caption),
    h('thead', null, h('tr', null, cols.map((c) => h('th', { scope: 'col', class: c.className || null, 'aria-sort': c.ariaSort || null }, c.label)))));
  const tbody = h('tbody');
  table.append(tbody);
  if (!rows.length) {
    tbody.append(h('tr', { class: 'empty-row' }, h('td', { colspan: String(cols.length) }, empty)));
    return table;
  }
  for (const row of rows) {
    const k = key(row);
    const tr = h('tr', { 'data-key': k });
    let detail = null;
    for (const c of cols) {
      const td = h('td', { class: c.className || null });
      if (c.className === 'col-expand') {
        const detailId = uid('detail');
        const isOpen = expand.expanded.has(k);
        const btn = h('button', {
          type: 'button', class: 'icon-btn expander', 'aria-expanded': isOpen ? 'true' : 'false', 'aria-controls': detailId,
          'aria-label': expand.label(row), title: 'Show every field and the status details',
        }, h('span', { class: 'chevron', 'aria-hidden': 'true' }));
        detail = h('tr', { class: 'detail-row', id: detailId, hidden: !isOpen },
          h('td', { colspan: String(cols.length) }, isOpen ? expand.render(row) : null));
        btn.addEventListener('click', () => {
          const nowOpen = btn.getAttribute('aria-expanded') !== 'true';
          btn.setAttribute('aria-expanded', nowOpen ? 'true' : 'false');
          detail.hidden = !nowOpen;
          tr.classList.toggle('is-expanded', nowOpen);
          if (nowOpen) {
            expand.expanded.add(k);
            const cell = detail.firstChild;
            clear(cell).append(expand.render(row));
          } else {
            expand.expanded.delete(k);
          }
        });
        if (isOpen) tr.classList.add('is-expanded');
        td.append(btn);
      } else {
        const v = c.render(row);
        if (v !== null && v !== undefined) td.append(v instanceof Node ? v : document.createTextNode(String(v)));
      }
      tr.append(td);
    }
    tbody.append(tr);
    if (detail) tbody.append(detail);
  }
  return table;
}

/** An empty state: title, explanation and an optional action. */
export function emptyState(title, text, action) {
  return h('div', { class: 'empty-state' },
    h('div', { class: 'empty-icon', 'aria-hidden': 'true' }),
    h('p', { class: 'empty-title' }, title),
    text ? h('p', { class: 'empty-text' }, text) : null,
    action || null);
}

/** A key/value description list for expanded rows. */
export function detailList(pairs) {
  const dl = h('dl', { class: 'kv' });
  for (const [k, v] of pairs) {
    if (v === undefined) continue;
    dl.append(h('div', { class: 'kv-item' }, h('dt', null, k), h('dd', null, (v === null || v === '') ? '\u2014' : v)));
  }
  return dl;
}

// ---------------------------------------------------------------------------------------
// Tabs

/**
 * A tab list of links (hash routing). tabs: [{id, label, href}]; `current` is the selected
 * id. Arrow keys move between tabs (and follow them), Home/End jump.
 */
export function tabList({ label, tabs, current, className = '' }) {
  const list = h('div', { role: 'tablist', 'aria-label': label, class: `tabs ${className}` });
  for (const t of tabs) {
    const selected = t.id === current;
    list.append(h('a', {
      role: 'tab', id: `tab-${t.id}`, href: t.href, class: 'tab', 'aria-selected': selected ? 'true' : 'false',
      'aria-controls': `panel-${t.id}`, tabindex: selected ? '0' : '-1',
    }, t.label));
  }
  list.addEventListener('keydown', (e) => {
    const all = [...list.querySelectorAll('[role="tab"]')];
    const i = all.indexOf(document.activeElement);
    if (i < 0) return;
    let j = null;
    if (e.key === 'ArrowRight') j = (i + 1) % all.length;
    else if (e.key === 'ArrowLeft') j = (i - 1 + all.length) % all.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = all.length - 1;
    else if (e.key === ' ') { e.preventDefault(); all[i].click(); return; }
    if (j === null) return;
    e.preventDefault();
    all[j].focus();
    all[j].click();
  });
  return list;
}

// ---------------------------------------------------------------------------------------
// Badges

/** Admin status text with a dot. */
export function adminStatus(enabled) {
  return h('span', { class: `status ${enabled ? 'status-on' : 'status-off'}` },
    h('span', { class: 'dot', 'aria-hidden': 'true' }), enabled ? 'Enabled' : 'Disabled');
}

/** The "System" badge of system-owned objects. */
export function systemBadge() {
  return h('span', { class: 'badge badge-system', title: 'System-owned: read-only' }, 'System');
}

/** A loading line. */
export function loading(text = 'Loading\u2026') {
  return h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

/** An error banner (role=alert). */
export function errorBanner(message, retry) {
  return h('div', { class: 'banner banner-error', role: 'alert' },
    h('span', { class: 'banner-icon', 'aria-hidden': 'true' }, '!'),
    h('div', { class: 'banner-text' }, message),
    retry ? h('button', { type: 'button', class: 'btn btn-link', onclick: retry }, 'Retry') : null);
}

// ---------------------------------------------------------------------------------------
// Panel chrome

/** A notice area at the top of a tab: show(kind, message) / clear(). */
export function noticeArea() {
  const el = h('div', { class: 'notice-host' });
  return {
    el,
    show(kind, message) {
      clear(el);
      const box = h('div', { class: `banner banner-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
        h('span', { class: 'banner-icon', 'aria-hidden': 'true' }, kind === 'error' ? '!' : 'i'),
        h('div', { class: 'banner-text' }, message),
        h('button', { type: 'button', class: 'icon-btn banner-close', onclick: () => clear(el) }, h('span', { 'aria-hidden': 'true' }, '\u00d7'), srOnly('Dismiss')));
      el.append(box);
    },
    clear() { clear(el); },
  };
}

/** The toolbar above a table: left (buttons) and right (counts, refresh). */
export function toolbar(left, right) {
  return h('div', { class: 'toolbar' }, h('div', { class: 'toolbar-left' }, left), h('div', { class: 'toolbar-right' }, right));
}

/** A refresh button. */
export function refreshButton(onclick, label = 'Refresh') {
  return h('button', { type: 'button', class: 'btn btn-ghost btn-sm', onclick },
    h('span', { class: 'refresh-icon', 'aria-hidden': 'true' }, '\u21bb'), ` ${label}`);
}
