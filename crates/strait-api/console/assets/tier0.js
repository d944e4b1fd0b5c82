// Networking > Tier-0 Gateways: the tier-0 gateways with their BGP at a glance; a gateway's
// BGP (its configuration, its neighbors with their state refreshed every 5 s, route
// redistribution); and its routing table. The forms live in bgp-forms.js.

import * as api from './api.js';
import { h, clear, uid, fmtTime, fmtDuration } from './dom.js';
import {
  dataTable, emptyState, menuButton, confirmDialog, toast, loading, errorBanner,
  noticeArea, toolbar, refreshButton, detailList, adminStatus,
} from './ui.js';
import { field, select } from './forms.js';
import { byName, lastSegment } from './data.js';
import { openGatewayForm } from './services.js';
import {
  openBgpForm, openNeighborForm, openRedistributionForm, openRoutesDialog,
  GR_MODES, REDISTRIBUTION_TYPES, redistributedTypes,
} from './bgp-forms.js';

export const STATUS_INTERVAL_MS = 5000;

const HA_MODES = { ACTIVE_STANDBY: 'Active Standby', ACTIVE_ACTIVE: 'Active Active' };

/** The hash of a tier-0 tab (`bgp`, `routing`), keeping the chosen gateway. */
export function tabHref(view, query) {
  const g = query && query.get('gateway');
  return `#/tier0/${view}${g ? `?gateway=${encodeURIComponent(g)}` : ''}`;
}

const gatewayHref = (view, g) => `#/tier0/${view}?gateway=${encodeURIComponent(g.id)}`;

/** Every tier-0 gateway, by name. */
export async function loadTier0s() {
  return (await api.list('/infra/tier-0s')).sort(byName);
}

/**
 * A tier-0's locale services, each with its BGP configuration, neighbors and their status:
 * [{ls, bgp, neighbors, status}].
 */
export async function loadBgp(gateway) {
  const lss = (await api.list(`${gateway.path}/locale-services`)).sort(byName);
  return Promise.all(lss.map(async (ls) => {
    const [bgp, neighbors, status] = await Promise.all([
      api.get(`${ls.path}/bgp`).catch((err) => { if (err.status === 404) return null; throw err; }),
      api.list(`${ls.path}/bgp/neighbors`),
      loadStatus(ls.path).catch(() => null),
    ]);
    return { ls, bgp, neighbors: neighbors.sort(byName), status };
  }));
}

/** `…/bgp/neighbors/status` of a locale service: the results. */
async function loadStatus(lsPath) {
  const r = await api.get(`${lsPath}/bgp/neighbors/status`);
  return (r && Array.isArray(r.results)) ? r.results : [];
}

/** BGP runs on this configuration: enabled and with a local AS. */
export const bgpRuns = (bgp) => !!(bgp && bgp.enabled !== false && bgp.local_as_num);

/** The locale service whose BGP the page shows: the one running BGP, else `default`. */
function chooseLocale(entries, wanted) {
  return entries.find((e) => e.ls.id === wanted)
    || entries.find((e) => bgpRuns(e.bgp))
    || entries.find((e) => e.ls.id === 'default')
    || entries[0] || null;
}

// ---------------------------------------------------------------------------------------
// Neighbor status

const STATES = {
  ESTABLISHED: ['Established', 'up'],
  IDLE: ['Idle', 'down'],
  CONNECT: ['Connect', 'down'],
  ACTIVE: ['Active', 'down'],
  OPEN_SENT: ['Open Sent', 'degraded'],
  OPEN_CONFIRM: ['Open Confirm', 'degraded'],
  INVALID: ['Invalid', 'down'],
  UNKNOWN: ['Unknown', 'unknown'],
};

/** {word, text, cls} of a neighbor's status entry: `Active - Connection refused`. */
export function neighborStatusText(st) {
  const [word, cls] = STATES[st.connection_state] || [st.connection_state || 'Unknown', 'unknown'];
  const reason = st.connection_state === 'ESTABLISHED' ? null : (st.last_error || st.alarm || null);
  return { word, cls, text: reason ? `${word} - ${reason}` : word };
}

function statusNode(entry) {
  if (!entry) return h('span', { class: 'status status-pending' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), 'Checking\u2026');
  if (entry.err) return h('span', { class: 'status status-unknown', title: entry.err }, h('span', { class: 'dot', 'aria-hidden': 'true' }), 'Unknown');
  if (!entry.st) return h('span', { class: 'status status-unknown' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), 'Unknown - no status reported');
  const t = neighborStatusText(entry.st);
  // A long reason (an alarm) is cut after three lines; the whole text is its title and in the
  // expanded row.
  return h('span', { class: `status status-${t.cls} status-wrap`, title: t.text }, h('span', { class: 'dot', 'aria-hidden': 'true' }), h('span', { class: 'status-text' }, t.text));
}

const established = (status) => (status || []).filter((s) => s.connection_state === 'ESTABLISHED').length;

// ---------------------------------------------------------------------------------------
// Entry

export function render(panel, ctx) {
  if (ctx.view === 'bgp') renderBgp(panel, ctx);
  else if (ctx.view === 'routing') renderRouting(panel, ctx);
  else renderGateways(panel, ctx);
}

// ---------------------------------------------------------------------------------------
// Tier-0 Gateways tab

function renderGateways(panel, ctx) {
  const notice = noticeArea();
  const body = h('div', { class: 'table-wrap' }, loading());
  const count = h('span', { class: 'count' });
  const add = () => openGatewayForm({ onSaved: () => ctx.refresh() });
  const addBtn = ctx.isAdmin ? h('button', { type: 'button', class: 'btn btn-primary', onclick: add }, 'Add Gateway') : null;
  panel.append(toolbar(addBtn, [count, refreshButton(() => ctx.refresh())]), notice.el, body);

  loadTier0s().then(async (gateways) => {
    const bgp = await Promise.all(gateways.map((g) => loadBgp(g).catch((err) => {
      if (err.status === 401) throw err;
      return { err: err.message };
    })));
    if (!ctx.current()) return;
    const rows = gateways.map((g, i) => ({ g, entries: bgp[i] }));
    count.textContent = `${rows.length} ${rows.length === 1 ? 'gateway' : 'gateways'}`;
    const main = (r) => (Array.isArray(r.entries) ? chooseLocale(r.entries) : null);
    clear(body).append(dataTable({
      caption: 'Tier-0 Gateways',
      rows,
      key: (r) => r.g.path,
      actions: (r) => menuButton({
        ariaLabel: true, name: `Actions for ${r.g.display_name}`, content: '\u22ee',
        items: () => [
          { label: 'BGP', onSelect: () => ctx.navigate(gatewayHref('bgp', r.g)) },
          { label: 'Routing Table', onSelect: () => ctx.navigate(gatewayHref('routing', r.g)) },
        ],
      }),
      columns: [
        { label: 'Name', className: 'col-name', render: (r) => h('span', { class: 'obj-name', title: r.g.display_name }, r.g.display_name) },
        { label: 'HA Mode', render: (r) => HA_MODES[r.g.ha_mode] || r.g.ha_mode || '\u2014' },
        { label: 'Local AS', className: 'mono', render: (r) => { const e = main(r); return (e && e.bgp && e.bgp.local_as_num) || '\u2014'; } },
        {
          label: 'BGP',
          render: (r) => {
            if (!Array.isArray(r.entries)) return h('span', { class: 'muted', title: r.entries.err }, 'Unknown');
            const e = main(r);
            if (!e || !e.bgp) return h('span', { class: 'muted' }, 'Not configured');
            if (e.bgp.enabled === false) return adminStatus(false);
            if (!e.bgp.local_as_num) return h('span', { class: 'muted' }, 'Not configured (no local AS)');
            return adminStatus(true);
          },
        },
        {
          label: 'BGP Neighbors',
          render: (r) => {
            if (!Array.isArray(r.entries)) return '\u2014';
            const n = r.entries.reduce((a, e) => a + e.neighbors.length, 0);
            const up = r.entries.reduce((a, e) => a + established(e.status), 0);
            return h('span', { class: 'nowrap' },
              h('a', { href: gatewayHref('bgp', r.g), class: 'count-link' }, `${n} ${n === 1 ? 'neighbor' : 'neighbors'}`),
              n ? h('span', { class: 'muted' }, `, ${up} established`) : null);
          },
        },
      ],
      empty: emptyState('No tier-0 gateways yet',
        'A tier-0 gateway holds the IPsec VPN service and runs BGP over its sessions\u2019 tunnel interfaces. Add one here or with VPN Services > Add VPN Service, then configure its BGP.',
        ctx.isAdmin ? h('button', { type: 'button', class: 'btn btn-secondary', onclick: add }, 'Add Gateway') : null),
    }));
  }).catch((err) => {
    if (!ctx.current() || err.status === 401) return;
    clear(body).append(errorBanner(`Could not load the tier-0 gateways: ${err.message}`, () => ctx.refresh()));
  });
}

// ---------------------------------------------------------------------------------------
// The gateway chooser of the BGP and Routing Table tabs

/** Resolve `?gateway=` against the tier-0s (the first one when absent). */
function pickGateway(gateways, ctx) {
  const wanted = ctx.query.get('gateway');
  if (wanted) return gateways.find((g) => g.id === wanted) || null;
  return gateways[0] || null;
}

// The picker that changed the URL gets the focus back once the tab is drawn again (a
// keyboard user choosing with the arrow keys stays on it).
let refocus = null;

function picker(label, options, value, onChange) {
  const sel = select(options, value);
  sel.addEventListener('change', () => { refocus = label; onChange(sel.value); });
  const f = field({ label, control: sel, className: 'picker' });
  if (refocus === label) {
    refocus = null;
    setTimeout(() => { if (sel.isConnected) sel.focus(); }, 0);
  }
  return f.wrap;
}

function gatewayPicker(gateways, current, view, ctx) {
  return picker('Tier-0 Gateway', gateways.map((g) => ({ value: g.id, label: g.display_name || g.id })), current ? current.id : '',
    (id) => ctx.navigate(`#/tier0/${view}?gateway=${encodeURIComponent(id)}`));
}

function noGateway(ctx, what) {
  return h('div', { class: 'table-wrap' }, emptyState('No tier-0 gateways yet',
    `${what} belongs to a tier-0 gateway. Add one on the Tier-0 Gateways tab (or with VPN Services > Add VPN Service), then come back here.`,
    h('a', { href: '#/tier0/gateways', class: 'btn btn-secondary' }, 'Go to Tier-0 Gateways')));
}

function unknownGateway(ctx) {
  return errorBanner(h('span', null, `There is no tier-0 gateway with the ID ${ctx.query.get('gateway')}. `,
    h('a', { href: '#/tier0/gateways' }, 'Choose one on the Tier-0 Gateways tab'), '.'));
}

// ---------------------------------------------------------------------------------------
// BGP tab

const expanded = new Set();

function onOff(v) {
  return v === false ? 'Disabled' : 'Enabled';
}

function renderBgp(panel, ctx) {
  const head = h('div', { class: 'picker-row' }, loading());
  const notice = noticeArea();
  const host = h('div', { class: 'bgp-view' });
  panel.append(head, notice.el, host);

  let stopped = false;
  let timer = null;
  ctx.onLeave(() => { stopped = true; if (timer) clearTimeout(timer); });

  loadTier0s().then(async (gateways) => {
    if (!ctx.current()) return;
    const g = pickGateway(gateways, ctx);
    clear(head);
    if (!gateways.length) { host.append(noGateway(ctx, 'BGP')); return; }
    head.append(gatewayPicker(gateways, g, 'bgp', ctx), h('div', { class: 'picker-actions' }, refreshButton(() => ctx.refresh())));
    if (!g) { host.append(unknownGateway(ctx)); return; }
    host.append(loading());
    const entries = await loadBgp(g);
    const addresses = await gatewayAddresses(g).catch(() => []);
    if (!ctx.current()) return;
    const entry = chooseLocale(entries, ctx.query.get('locale'));
    clear(host);
    if (!entry) {
      host.append(h('div', { class: 'table-wrap' }, emptyState(`${g.display_name} has no locale service`,
        'BGP is configured in a locale service of the tier-0 gateway (NSX creates "default" with the gateway). Create one with PATCH /policy/api/v1/infra/tier-0s/<id>/locale-services/default.')));
      return;
    }
    if (entries.length > 1) {
      head.insertBefore(picker('Locale Service', entries.map((e) => ({ value: e.ls.id, label: e.ls.display_name || e.ls.id })), entry.ls.id,
        (id) => ctx.navigate(`#/tier0/bgp?gateway=${encodeURIComponent(g.id)}&locale=${encodeURIComponent(id)}`)), head.lastChild);
    }
    buildBgpView(host, ctx, g, entry, addresses, notice, (t) => { timer = t; }, () => stopped);
  }).catch((err) => {
    if (!ctx.current() || err.status === 401) return;
    clear(head);
    clear(host).append(errorBanner(`Could not load the BGP configuration: ${err.message}`, () => ctx.refresh()));
  });
}

/**
 * The tier-0's own addresses a BGP session may use as its source: its sessions' VTI
 * addresses and its local endpoints' addresses. [{address, what}].
 */
async function gatewayAddresses(g) {
  const services = await api.list(`${g.path}/ipsec-vpn-services`);
  const per = await Promise.all(services.map((s) => Promise.all([
    api.list(`${s.path}/sessions`), api.list(`${s.path}/local-endpoints`),
  ])));
  const out = [];
  for (const [sessions, endpoints] of per) {
    for (const s of sessions) {
      const ti = (s.tunnel_interfaces && s.tunnel_interfaces[0] && s.tunnel_interfaces[0].ip_subnets) || [];
      for (const sub of ti) {
        for (const a of sub.ip_addresses || []) out.push({ address: a, prefix: sub.prefix_length, what: `VTI of ${s.display_name}` });
      }
    }
    for (const e of endpoints) if (e.local_address) out.push({ address: e.local_address, what: `local endpoint ${e.display_name}` });
  }
  return out;
}

function section(title, actions, ...content) {
  const id = uid('sec');
  return h('section', { class: 'page-section', 'aria-labelledby': id },
    h('div', { class: 'section-head' }, h('h2', { class: 'section-title', id }, title), h('div', { class: 'section-actions' }, actions)),
    content);
}

function buildBgpView(host, ctx, g, entry, addresses, notice, setTimer, isStopped) {
  const { ls } = entry;
  const bgp = entry.bgp || {};
  const reload = () => ctx.reload();

  // --- BGP configuration ----------------------------------------------------------------
  const gr = bgp.graceful_restart_config || {};
  const timer = gr.timer || {};
  const aggs = (bgp.route_aggregations || []).map((a) => `${a.prefix}${a.summary_only === false ? ' (with the routes it covers)' : ''}`);
  const cfgList = detailList([
    ['Local AS', bgp.local_as_num || h('span', { class: 'muted' }, 'Not set')],
    ['BGP', onOff(bgp.enabled)],
    ['ECMP', onOff(bgp.ecmp)],
    ['Multipath Relax', onOff(bgp.multipath_relax)],
    ['Graceful Restart', (GR_MODES.find(([v]) => v === (gr.mode || 'HELPER_ONLY')) || [0, gr.mode])[1]],
    ['Graceful Restart Timer', `${timer.restart_timer ?? 180} s`],
    ['Graceful Restart Stale Timer', `${timer.stale_route_timer ?? 600} s`],
    ['Route Aggregation', aggs.length ? aggs.join(', ') : 'None'],
    ['eBGP Admin Distance', bgp.ebgp_admin_distance ? String(bgp.ebgp_admin_distance) : 'Default (20)'],
    ['iBGP Admin Distance', bgp.ibgp_admin_distance ? String(bgp.ibgp_admin_distance) : 'Default (200)'],
  ]);
  cfgList.classList.add('kv-2');
  let cfgNote = null;
  if (!bgp.local_as_num) {
    cfgNote = h('p', { class: 'section-note' }, `BGP is not running on ${g.display_name}: it starts once the gateway has a local AS.`,
      ctx.isAdmin ? ' Set it with Edit BGP, then add the BGP neighbors.' : '');
  } else if (bgp.enabled === false) {
    cfgNote = h('p', { class: 'section-note' }, 'BGP is disabled: no BGP session runs on this gateway.');
  }
  const editBgp = ctx.isAdmin ? h('button', {
    type: 'button', class: 'btn btn-secondary btn-sm',
    onclick: () => openBgpForm({ gateway: g, ls, onSaved: reload }),
  }, 'Edit BGP') : null;
  host.append(section('BGP Configuration', editBgp,
    h('p', { class: 'section-sub muted' }, `${g.display_name}, locale service ${ls.display_name || ls.id}`),
    cfgNote, h('div', { class: 'section-box' }, cfgList)));

  // --- neighbors ------------------------------------------------------------------------
  let neighbors = entry.neighbors.slice();
  const statuses = new Map(); // path -> {st, err}
  for (const n of neighbors) {
    if (entry.status) statuses.set(n.path, { st: entry.status.find((s) => s.neighbor_path === n.path) || null, err: null });
  }
  const count = h('span', { class: 'count' });
  const tableHost = h('div', { class: 'table-wrap' });
  const openAdd = () => openNeighborForm({ gateway: g, ls, addresses, onSaved: reload });
  const addBtn = ctx.isAdmin ? h('button', { type: 'button', class: 'btn btn-primary', onclick: openAdd }, 'Add BGP Neighbor') : null;
  host.append(section('BGP Neighbors', null, toolbar(addBtn, [count]), tableHost));

  function paintCount() {
    const up = [...statuses.values()].filter((x) => x.st && x.st.connection_state === 'ESTABLISHED').length;
    count.textContent = `${neighbors.length} ${neighbors.length === 1 ? 'neighbor' : 'neighbors'}${neighbors.length ? `, ${up} established` : ''}`;
  }

  function configCells(n) {
    return {
      ip: n.neighbor_address,
      as: n.remote_as_num,
      bfd: n.bfd && n.bfd.enabled ? `Enabled (${n.bfd.interval ?? 500} ms \u00d7 ${n.bfd.multiple ?? 3})` : 'Disabled',
      admin: n.enabled === false ? 'Disabled' : null,
    };
  }

  function cell(kind, n) {
    return h('span', { 'data-cell': kind, 'data-for': n.path }, cellContent(kind, n));
  }

  function cellContent(kind, n) {
    const c = configCells(n);
    if (kind === 'ip') return c.ip;
    if (kind === 'as') return c.as;
    if (kind === 'bfd') return c.bfd;
    if (kind === 'name') return [h('span', { class: 'obj-name', title: n.display_name }, n.display_name), c.admin ? h('span', { class: 'badge badge-system' }, 'Disabled') : null];
    const e = statuses.get(n.path);
    if (kind === 'status') return statusNode(e);
    if (kind === 'in' || kind === 'out') {
      if (!e || !e.st) return '\u2014';
      return String(kind === 'in' ? e.st.total_in_prefix_count ?? 0 : e.st.total_out_prefix_count ?? 0);
    }
    return '';
  }

  function renderTable() {
    paintCount();
    clear(tableHost).append(dataTable({
      caption: 'BGP Neighbors',
      rows: neighbors,
      key: (n) => n.path,
      actions: (n) => menuButton({
        ariaLabel: true, name: `Actions for ${n.display_name}`, content: '\u22ee',
        items: () => [
          ...(ctx.isAdmin ? [
            { label: 'Edit', onSelect: () => openNeighborForm({ gateway: g, ls, neighbor: n, addresses, onSaved: reload }) },
            { label: 'Delete', onSelect: () => deleteNeighbor(n) },
          ] : []),
          { label: 'Received Routes', onSelect: () => openRoutesDialog({ neighbor: n, advertised: false, status: (statuses.get(n.path) || {}).st }) },
          { label: 'Advertised Routes', onSelect: () => openRoutesDialog({ neighbor: n, advertised: true, status: (statuses.get(n.path) || {}).st }) },
        ],
      }),
      expand: {
        label: (n) => `Expand ${n.display_name}`,
        expanded,
        render: (n) => h('div', { class: 'details' },
          h('section', { class: 'details-section' }, h('h3', null, 'Configuration'),
            h('div', { 'data-config-for': n.path }, neighborConfig(n))),
          h('section', { class: 'details-section' }, h('h3', null, 'Status'),
            h('div', { 'data-status-details-for': n.path }, neighborStatusDetails(statuses.get(n.path))))),
      },
      columns: [
        { label: 'Name', className: 'col-name', render: (n) => cell('name', n) },
        { label: 'IP Address', className: 'mono', render: (n) => cell('ip', n) },
        { label: 'Remote AS', className: 'mono', render: (n) => cell('as', n) },
        { label: 'BFD', className: 'nowrap', render: (n) => cell('bfd', n) },
        { label: 'Status', className: 'col-status col-bgp-status', render: (n) => cell('status', n) },
        { label: 'Routes Received', className: 'num', render: (n) => cell('in', n) },
        { label: 'Routes Advertised', className: 'num', render: (n) => cell('out', n) },
      ],
      empty: emptyState('No BGP neighbors yet',
        !bgp.local_as_num
          ? `Set the local AS of ${g.display_name} with Edit BGP, then add a BGP neighbor for each peer: usually the remote site\u2019s VTI address, with its AS number.`
          : 'Add a BGP neighbor for each peer you exchange routes with: usually the remote site\u2019s VTI address (e.g. 169.254.10.2 for a session whose tunnel interface is 169.254.10.1/30), with its AS number.',
        ctx.isAdmin ? h('button', { type: 'button', class: 'btn btn-secondary', onclick: openAdd }, 'Add BGP Neighbor') : null),
    }));
  }

  /** Redraw the cells of `kinds` in place (an open menu and the focus stay where they are). */
  function repaint(kinds, paths) {
    for (const el of tableHost.querySelectorAll('[data-cell]')) {
      const path = el.getAttribute('data-for');
      if (paths && !paths.has(path)) continue;
      const kind = el.getAttribute('data-cell');
      if (!kinds.includes(kind)) continue;
      const n = neighbors.find((x) => x.path === path);
      if (n) clear(el).append(...[cellContent(kind, n)].flat().filter(Boolean));
    }
    for (const box of tableHost.querySelectorAll('[data-status-details-for]')) {
      clear(box).append(neighborStatusDetails(statuses.get(box.getAttribute('data-status-details-for'))));
    }
    if (paths) {
      for (const box of tableHost.querySelectorAll('[data-config-for]')) {
        const n = neighbors.find((x) => x.path === box.getAttribute('data-config-for'));
        if (n && paths.has(n.path)) clear(box).append(neighborConfig(n));
      }
    }
    paintCount();
  }

  async function poll() {
    if (isStopped()) return;
    try {
      const [st, fresh] = await Promise.all([
        loadStatus(ls.path).then((r) => ({ r }), (err) => ({ err })),
        api.list(`${ls.path}/bgp/neighbors`),
      ]);
      if (isStopped()) return;
      if (st.err && st.err.status === 401) return;
      const before = new Set(neighbors.map((n) => n.path));
      const after = new Set(fresh.map((n) => n.path));
      const sameSet = before.size === after.size && [...before].every((p) => after.has(p));
      const changed = new Set();
      for (const f of fresh) {
        const n = neighbors.find((x) => x.path === f.path);
        if (n && n._revision !== f._revision) { Object.assign(n, f); changed.add(n.path); }
      }
      for (const f of fresh) {
        statuses.set(f.path, st.err ? { st: null, err: st.err.message } : { st: st.r.find((s) => s.neighbor_path === f.path) || null, err: null });
      }
      // An open menu or dialog belongs to the user: the table is not redrawn under it.
      const busy = document.querySelector('[role="menu"]') || document.querySelector('#dialogs .modal-layer');
      if (!sameSet && !busy) {
        // Added or deleted elsewhere: redraw the table, the focus back on the same control.
        const active = document.activeElement;
        const focusName = active && tableHost.contains(active) ? active.getAttribute('aria-label') : null;
        neighbors = fresh.sort(byName);
        renderTable();
        if (focusName) {
          const again = [...tableHost.querySelectorAll('[aria-label]')].find((e) => e.getAttribute('aria-label') === focusName);
          if (again) again.focus();
        }
      } else {
        repaint(['name', 'ip', 'as', 'bfd'], changed);
        repaint(['status', 'in', 'out'], null);
      }
    } catch (err) {
      if (err.status === 401) return;
      for (const n of neighbors) statuses.set(n.path, { st: null, err: err.message });
      repaint(['status', 'in', 'out'], null);
    }
    if (!isStopped()) setTimer(setTimeout(poll, STATUS_INTERVAL_MS));
  }

  async function deleteNeighbor(n) {
    const ok = await confirmDialog({
      title: 'Delete BGP Neighbor',
      message: `Delete the BGP neighbor "${n.display_name}" (${n.neighbor_address}, AS ${n.remote_as_num})? Its BGP session closes at once and the routes learned from it are withdrawn.`,
      confirmLabel: 'Delete',
      danger: true,
    });
    if (!ok) return;
    try {
      await api.del(n.path);
      expanded.delete(n.path);
      toast(`BGP neighbor ${n.display_name} deleted.`);
      ctx.refresh();
    } catch (err) {
      if (err.status !== 401) notice.show('error', `Could not delete ${n.display_name}: ${err.message}`);
    }
  }

  renderTable();
  if (!entry.status) {
    for (const n of neighbors) statuses.set(n.path, { st: null, err: 'the status could not be read' });
  }
  setTimer(setTimeout(poll, entry.status ? STATUS_INTERVAL_MS : 0));

  // --- route redistribution ---------------------------------------------------------------
  const types = redistributedTypes(ls);
  const off = ls.route_redistribution_config && ls.route_redistribution_config.bgp_enabled === false;
  const names = types.map((t) => (REDISTRIBUTION_TYPES.find(([v]) => v === t) || [t, t])[1]);
  const editRedist = ctx.isAdmin ? h('button', {
    type: 'button', class: 'btn btn-secondary btn-sm',
    onclick: () => openRedistributionForm({ ls, onSaved: reload }),
  }, 'Edit Route Redistribution') : null;
  host.append(section('Route Redistribution', editRedist,
    h('div', { class: 'section-box' }, detailList([
      ['Redistributed into BGP', off ? 'Nothing (redistribution into BGP is off)' : (names.length ? names.join(', ') : 'Nothing')],
    ]), names.length && !off ? null : h('p', { class: 'section-note' },
      'Neighbors get only the routes learned from other neighbors. Redistribute the tier-0\u2019s connected networks, static routes or IPSec local IPs to announce them.'))));

  // --- details ------------------------------------------------------------------------------
  function neighborConfig(n) {
    const fams = (n.route_filtering || []);
    const maxRoutes = fams.filter((f) => f.maximum_routes).map((f) => `${f.maximum_routes} (${f.address_family})`).join(', ');
    const filters = fams.map((f) => {
      const parts = [];
      if (f.enabled === false) parts.push('disabled');
      if ((f.in_route_filters || []).length) parts.push(`in: ${f.in_route_filters.map(lastSegment).join(', ')}`);
      if ((f.out_route_filters || []).length) parts.push(`out: ${f.out_route_filters.map(lastSegment).join(', ')}`);
      return `${f.address_family}${parts.length ? ` (${parts.join('; ')})` : ''}`;
    }).join(', ');
    return detailList([
      ['Name', n.display_name],
      ['ID', n.id],
      ['Path', h('code', null, n.path)],
      ['IP Address', n.neighbor_address],
      ['Remote AS', n.remote_as_num],
      ['Source Addresses', (n.source_addresses || []).join(', ') || 'Chosen by the routing daemon'],
      ['Admin Status', n.enabled === false ? 'Disabled' : 'Enabled'],
      ['Hold Down Time', `${n.hold_down_time ?? 180} s`],
      ['Keep Alive Time', `${n.keep_alive_time ?? 60} s`],
      ['Maximum Hop Limit', String(n.maximum_hop_limit ?? 1)],
      ['Password', n.has_password ? 'Password set (never displayed)' : 'None'],
      ['BFD', configCells(n).bfd],
      ['Allow-as-in', n.allow_as_in ? 'Enabled' : 'Disabled'],
      ['Graceful Restart', n.graceful_restart_mode ? (GR_MODES.find(([v]) => v === n.graceful_restart_mode) || [0, n.graceful_restart_mode])[1] : 'As the BGP configuration'],
      ['Maximum Routes', maxRoutes || 'No limit'],
      ['Address Families', filters || 'Derived from the neighbor address'],
      ['Last Modified', `${fmtTime(n._last_modified_time)}${n._last_modified_user ? ` by ${n._last_modified_user}` : ''}`],
      ['Revision', String(n._revision ?? '')],
    ]);
  }
}

function neighborStatusDetails(entry) {
  if (!entry) return h('p', { class: 'muted' }, 'Checking the status\u2026');
  if (entry.err) return h('p', { class: 'muted' }, `Status unavailable: ${entry.err}`);
  const st = entry.st;
  if (!st) return h('p', { class: 'muted' }, 'No status reported for this neighbor.');
  const t = neighborStatusText(st);
  const pairs = [
    ['Connection State', h('span', { class: `status status-${t.cls}` }, h('span', { class: 'dot', 'aria-hidden': 'true' }), t.word)],
    ['Last Error', st.last_error || (st.connection_state === 'ESTABLISHED' ? 'None' : '')],
  ];
  if (st.alarm) pairs.push(['Alarm', h('div', { class: 'alarm' }, h('span', { class: 'alarm-text' }, st.alarm))]);
  pairs.push(
    ['Established For', typeof st.time_since_established === 'number' ? fmtDuration(st.time_since_established) : ''],
    ['Source Address', st.source_address || ''],
    ['Neighbor Router ID', st.neighbor_router_id || ''],
    ['Hold Time', typeof st.hold_time === 'number' ? `${st.hold_time} s` : ''],
    ['Keepalive Interval', typeof st.keep_alive_interval === 'number' ? `${st.keep_alive_interval / 1000} s` : ''],
    ['TCP Ports', st.local_port ? `${st.local_port} \u2192 ${st.remote_port}` : ''],
    ['BFD Status', st.bfd_status || ''],
    ['Graceful Restart', st.graceful_restart_mode ? (GR_MODES.find(([v]) => v === st.graceful_restart_mode) || [0, st.graceful_restart_mode])[1] : ''],
  );
  for (const f of st.address_families || []) {
    pairs.push([f.type, `${f.in_prefix_count} received, ${f.out_prefix_count} advertised`]);
  }
  pairs.push(['Last Update', st.last_update_timestamp ? fmtTime(st.last_update_timestamp) : 'Never (the routing daemon has not reported)']);
  return detailList(pairs);
}

// ---------------------------------------------------------------------------------------
// Routing Table tab

const ROUTE_TYPES = { b: 'BGP', t0s: 'Static', t0c: 'Connected' };
const SOURCES = [['', 'All', ''], ['BGP', 'BGP', 'BGP'], ['STATIC', 'Static', 'static'], ['CONNECTED', 'Connected', 'connected']];

function renderRouting(panel, ctx) {
  const head = h('div', { class: 'picker-row' }, loading());
  const body = h('div', { class: 'table-wrap' });
  const count = h('span', { class: 'count' });
  panel.append(head, body);

  loadTier0s().then(async (gateways) => {
    if (!ctx.current()) return;
    const g = pickGateway(gateways, ctx);
    clear(head);
    if (!gateways.length) { body.replaceWith(noGateway(ctx, 'A routing table')); return; }
    const source = select(SOURCES, '');
    const src = field({ label: 'Route Source', control: source, className: 'picker' });
    head.append(gatewayPicker(gateways, g, 'routing', ctx), src.wrap, h('div', { class: 'picker-actions' }, count, refreshButton(() => load())));
    if (!g) { body.replaceWith(unknownGateway(ctx)); return; }
    source.addEventListener('change', () => load());
    const sessions = await sessionNames(g).catch(() => new Map());

    async function load() {
      clear(body).append(loading());
      count.textContent = '';
      try {
        const r = await api.get(`${g.path}/routing-table`, { query: source.value ? { route_source: source.value } : undefined });
        if (!ctx.current()) return;
        const tables = (r && r.results) || [];
        const failed = tables.find((t) => t.status && t.status !== 'SUCCESS');
        const routes = tables.flatMap((t) => t.route_entries || []);
        count.textContent = `${routes.length} ${routes.length === 1 ? 'route' : 'routes'}`;
        clear(body);
        if (failed) body.append(errorBanner(`The routing table could not be read completely: ${failed.error_message || failed.status}`));
        body.append(dataTable({
          caption: 'Routing Table',
          rows: routes,
          key: (e) => `${e.network}|${e.next_hop || ''}|${e.route_type}|${e.interface || ''}`,
          columns: [
            { label: 'Network', className: 'mono', render: (e) => e.network },
            { label: 'Next Hop', className: 'mono', render: (e) => (e.black_hole ? 'Null route' : e.next_hop || '\u2014') },
            { label: 'Route Type', render: (e) => h('span', { title: e.route_type }, ROUTE_TYPES[e.route_type] || e.route_type) },
            { label: 'Admin Distance', className: 'num', render: (e) => String(e.admin_distance ?? '') },
            {
              label: 'Interface',
              render: (e) => (e.interface ? h('span', null, sessions.get(e.interface) || lastSegment(e.interface), e.interface_name ? h('span', { class: 'muted' }, ` (${e.interface_name})`) : null) : (e.interface_name || '\u2014')),
            },
          ],
          empty: emptyState(source.value ? `No ${SOURCES.find(([v]) => v === source.value)[2]} routes` : 'No routes yet',
            `The routing table of ${g.display_name} lists the subnets of its sessions\u2019 tunnel interfaces (once a session is up), its static routes and the routes learned over BGP.`),
        }));
      } catch (err) {
        if (!ctx.current() || err.status === 401) return;
        clear(body).append(errorBanner(`Could not load the routing table: ${err.message}`, () => load()));
      }
    }
    load();
  }).catch((err) => {
    if (!ctx.current() || err.status === 401) return;
    clear(head);
    clear(body).append(errorBanner(`Could not load the tier-0 gateways: ${err.message}`, () => ctx.refresh()));
  });
}

/** Session path -> display name, for the routing table's Interface column. */
async function sessionNames(g) {
  const services = await api.list(`${g.path}/ipsec-vpn-services`);
  const all = (await Promise.all(services.map((s) => api.list(`${s.path}/sessions`)))).flat();
  return new Map(all.map((s) => [s.path, s.display_name]));
}
