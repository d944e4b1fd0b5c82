// A table of many rows shown a page at a time (issue 16: 10,000 sessions): a filter box,
// sortable columns and Previous / Next. Only the page's rows are in the DOM, so filtering,
// sorting and paging cost the same with 10 rows or 10,000.

import { h, uid } from './dom.js';
import { dataTable } from './ui.js';

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

function compareKeys(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return collator.compare(String(a ?? ''), String(b ?? ''));
}

/**
 * `dataTable` (same arguments) plus:
 * - `filterText(row)`: what the filter box searches (case-insensitive, every word must match);
 *   `filterLabel` names the box;
 * - `columns[i].sortKey(row)`: makes column i sortable (a button in its header; `aria-sort`);
 * - `sort`: the initial {column index, ascending}; `pageSize` (default 50);
 * - `onRedraw()`: runs after every redraw (e.g. to paint live status into the new rows).
 * Returns {el, visible(): the rows on the page, setRows(rows)}.
 */
export function pagedTable(opts) {
  const { caption, columns, key, filterText, filterLabel, pageSize = 50, onRedraw } = opts;
  let rows = opts.rows;
  let sort = opts.sort || null;
  let query = '';
  let page = 0;
  let shown = [];
  // Filter text per row, lower-cased once (not on every keystroke).
  let haystacks = new Map();
  const index = () => { haystacks = new Map(rows.map((r) => [key(r), filterText(r).toLowerCase()])); };
  index();

  const filterId = uid('filter');
  const input = h('input', {
    type: 'search', id: filterId, class: 'input table-filter', placeholder: 'Filter',
    autocomplete: 'off', 'aria-controls': `${filterId}-table`,
  });
  const status = h('span', { class: 'pager-text', role: 'status', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', class: 'btn btn-secondary btn-small' }, 'Previous');
  const next = h('button', { type: 'button', class: 'btn btn-secondary btn-small' }, 'Next');
  const tableHost = h('div', { id: `${filterId}-table` });
  const bar = h('div', { class: 'table-tools' },
    h('label', { for: filterId, class: 'sr-only' }, filterLabel || `Filter ${caption}`),
    input, h('span', { class: 'pager' }, status, prev, next));
  const el = h('div', { class: 'paged-table' }, bar, tableHost);

  let timer = null;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => { query = input.value; page = 0; redraw(); }, 120);
  });
  prev.addEventListener('click', () => { page -= 1; redraw(prev); });
  next.addEventListener('click', () => { page += 1; redraw(next); });

  function matching() {
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    const out = words.length
      ? rows.filter((r) => { const t = haystacks.get(key(r)) || ''; return words.every((w) => t.includes(w)); })
      : rows.slice();
    if (sort && columns[sort.column] && columns[sort.column].sortKey) {
      const k = columns[sort.column].sortKey;
      const keyed = out.map((r) => [k(r), r]);
      keyed.sort((a, b) => compareKeys(a[0], b[0]) || collator.compare(key(a[1]), key(b[1])));
      if (!sort.ascending) keyed.reverse();
      return keyed.map((x) => x[1]);
    }
    return out;
  }

  function header(c, i) {
    if (!c.sortKey) return c;
    const active = sort && sort.column === i;
    const label = h('button', {
      type: 'button', class: 'sort-btn', 'data-sort-column': String(i),
      title: `Sort by ${c.label}`,
      onclick: () => {
        sort = { column: i, ascending: active ? !sort.ascending : true };
        page = 0;
        redraw(null, i);
      },
    }, c.label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, active ? (sort.ascending ? ' \u25b2' : ' \u25bc') : ''));
    return { ...c, label, ariaSort: active ? (sort.ascending ? 'ascending' : 'descending') : 'none' };
  }

  /** Redraw the page; `focusAfter` (a pager button) or `sortColumn` gets the focus back. */
  function redraw(focusAfter, sortColumn) {
    const all = matching();
    const pages = Math.max(1, Math.ceil(all.length / pageSize));
    page = Math.min(Math.max(page, 0), pages - 1);
    shown = all.slice(page * pageSize, (page + 1) * pageSize);
    const empty = rows.length && !all.length
      ? h('p', { class: 'empty-text' }, `Nothing matches \u201c${query.trim()}\u201d: change or clear the filter.`)
      : opts.empty;
    const table = dataTable({ ...opts, rows: shown, columns: columns.map(header), empty });
    table.id = `${filterId}-grid`;
    tableHost.replaceChildren(table);
    const first = all.length ? page * pageSize + 1 : 0;
    const last = page * pageSize + shown.length;
    const filtered = all.length !== rows.length ? ` (filtered from ${rows.length.toLocaleString('en-US')})` : '';
    status.textContent = `${first.toLocaleString('en-US')}\u2013${last.toLocaleString('en-US')} of ${all.length.toLocaleString('en-US')}${filtered}`;
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
    bar.hidden = rows.length <= pageSize && !query;
    if (focusAfter) (focusAfter.disabled ? (focusAfter === prev ? next : prev) : focusAfter).focus();
    if (sortColumn !== undefined) table.querySelector(`[data-sort-column="${sortColumn}"]`)?.focus();
    if (onRedraw) onRedraw();
  }

  redraw();
  return {
    el,
    visible: () => shown,
    setRows(next) { rows = next; index(); redraw(); },
  };
}
