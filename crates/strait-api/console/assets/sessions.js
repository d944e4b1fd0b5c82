// IPSec Sessions tab: read-only rows that expand to every field and the runtime status
// (refreshed every 5 s from the service's session-status pages), the row menu (Edit, Delete, Enable/Disable,
// Download Config) and Add IPSec Session > Route Based.

import * as api from './api.js';
import { h, clear, fmtTime, fmtBytes, fmtDuration } from './dom.js';
import {
  emptyState, adminStatus, menuButton, confirmDialog, toast, loading, errorBanner,
  noticeArea, toolbar, refreshButton, detailList,
} from './ui.js';
import { formatTags } from './forms.js';
import { loadInventory, loadProfiles, byName, nameOf, lastSegment } from './data.js';
import { openSessionForm, SUITES, INIT_MODES, MSS_DIRECTIONS } from './session-form.js';
import { pagedTable } from './table.js';

export const STATUS_INTERVAL_MS = 5000;
/** Sessions of a service beyond which a poll re-reads only the page's sessions' configuration
 * (one GET each), not the whole collection (a 10,000-session service is 10 list pages). */
const WHOLE_REREAD_MAX = 1000;
export const POLICY_BASED_REASON = 'Policy-based sessions are not supported by strait';

const expanded = new Set();

function statusText(st) {
  if (!st) return null;
  const rs = st.runtime_status;
  const word = rs === 'UP' ? 'Up' : rs === 'DEGRADED' ? 'Degraded' : rs === 'DOWN' ? 'Down' : (rs || 'Unknown');
  const reason = st.ike_status && st.ike_status.fail_reason;
  return { word, text: rs !== 'UP' && reason ? `${word} - ${reason}` : word, cls: rs === 'UP' ? 'up' : rs === 'DEGRADED' ? 'degraded' : 'down' };
}

function statusNode(st, err) {
  if (err) return h('span', { class: 'status status-unknown', title: err }, h('span', { class: 'dot', 'aria-hidden': 'true' }), 'Unknown');
  const t = statusText(st);
  if (!t) return h('span', { class: 'status status-pending' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), 'Checking\u2026');
  return h('span', { class: `status status-${t.cls}` }, h('span', { class: 'dot', 'aria-hidden': 'true' }), t.text);
}

function vtiText(s) {
  const subnets = (s.tunnel_interfaces && s.tunnel_interfaces[0] && s.tunnel_interfaces[0].ip_subnets) || [];
  return subnets.map((x) => `${(x.ip_addresses || [])[0]}/${x.prefix_length}`).join(', ');
}

const label = (pairs, v) => {
  const x = pairs.find((p) => (Array.isArray(p) ? p[0] : p.value) === v);
  if (!x) return v;
  return Array.isArray(x) ? x[1] : x.label;
};

function fileName(name) {
  const base = String(name || 'session').replace(/[\\/:*?"<>|\u0000-\u001f]+/g, '_').trim() || 'session';
  return `${base}.txt`;
}

export function render(panel, ctx) {
  const notice = noticeArea();
  const body = h('div', { class: 'table-wrap' }, loading());
  const count = h('span', { class: 'count' });
  const filterPath = ctx.query.get('service') || '';
  const filterHost = h('div', { class: 'filter-host' });
  const addMenu = ctx.isAdmin ? menuButton({
    name: 'Add IPSec Session',
    content: [h('span', null, 'Add IPSec Session'), h('span', { class: 'caret' })],
    className: 'btn btn-primary btn-menu',
    items: () => [
      { label: 'Route Based', onSelect: () => openSessionForm({ ctx, servicePath: filterPath || undefined }) },
      { label: 'Policy Based', disabled: true, reason: POLICY_BASED_REASON, onSelect: () => {} },
    ],
  }) : null;
  panel.append(toolbar([addMenu, filterHost], [count, refreshButton(() => ctx.refresh())]), notice.el, body);

  const statuses = new Map(); // path -> {st, err}
  let rows = [];
  let table = null;
  let inv = null;
  let profiles = { ike: [], ipsec: [], dpd: [] };
  let timer = null;
  let stopped = false;
  ctx.onLeave(() => { stopped = true; if (timer) clearTimeout(timer); });

  function statusCells() {
    return [...body.querySelectorAll('[data-status-for]')];
  }

  /** Sessions whose configuration changed elsewhere: their Admin Status cell and, when
   * expanded, their Configuration section are redrawn in place (no re-render: an open menu or
   * the keyboard focus stays where it is). */
  function repaintConfig(paths) {
    for (const path of paths) {
      const s = rows.find((r) => r.path === path);
      if (!s) continue;
      for (const cell of body.querySelectorAll('[data-admin-for]')) {
        if (cell.getAttribute('data-admin-for') === path) clear(cell).append(adminStatus(s.enabled !== false));
      }
      for (const box of body.querySelectorAll('[data-config-for]')) {
        if (box.getAttribute('data-config-for') === path) clear(box).append(sessionConfig(s));
      }
    }
  }

  function paintStatuses() {
    for (const cell of statusCells()) {
      const s = statuses.get(cell.getAttribute('data-status-for'));
      clear(cell).append(statusNode(s && s.st, s && s.err));
    }
    for (const box of body.querySelectorAll('[data-status-details-for]')) {
      const path = box.getAttribute('data-status-details-for');
      clear(box).append(statusDetails(statuses.get(path)));
    }
  }

  /** The configuration of `service`'s sessions as stored now: all of it for a service of up
   * to WHOLE_REREAD_MAX sessions, else the sessions on the page (what is drawn). */
  async function freshConfig(service) {
    const mine = rows.filter((s) => s.parent_path === service);
    if (mine.length <= WHOLE_REREAD_MAX) return api.list(`${service}/sessions`);
    const onPage = (table ? table.visible() : []).filter((s) => s.parent_path === service);
    const got = await Promise.all(onPage.map((s) => api.get(s.path).catch((err) => {
      if (err.status === 404) return null;
      throw err;
    })));
    return got.filter(Boolean);
  }

  async function poll() {
    if (stopped) return;
    // Per service, two paged reads (up to 1,000 sessions a page), however many sessions
    // there are: their status and statistics (session-status), and their configuration,
    // which another admin, the CLI or the API may have changed.
    const changed = new Set();
    const byPath = new Map(rows.map((s) => [s.path, s]));
    for (const service of new Set(rows.map((s) => s.parent_path))) {
      if (stopped) return;
      try {
        const [live, fresh] = await Promise.all([
          api.list(`${service}/session-status`),
          freshConfig(service),
        ]);
        for (const r of live) statuses.set(r.path, { st: r.status || null, err: null });
        for (const f of fresh) {
          const s = byPath.get(f.path);
          if (s && f._revision !== s._revision) {
            Object.assign(s, f);
            changed.add(s.path);
          }
        }
      } catch (err) {
        if (err.status === 401) return;
        for (const s of rows) {
          if (s.parent_path === service) statuses.set(s.path, { st: null, err: err.message });
        }
      }
    }
    if (stopped) return;
    repaintConfig(changed);
    paintStatuses();
    timer = setTimeout(poll, STATUS_INTERVAL_MS);
  }

  Promise.all([
    loadInventory({ sessions: true, endpoints: true }),
    Promise.all([loadProfiles('ike'), loadProfiles('ipsec'), loadProfiles('dpd')]).catch(() => [[], [], []]),
  ]).then(([inventory, [ike, ipsec, dpd]]) => {
    if (!ctx.current()) return;
    inv = inventory;
    profiles = { ike, ipsec, dpd };
    const svc = filterPath ? inv.services.find((s) => s.path === filterPath) : null;
    rows = inv.sessions.filter((s) => !filterPath || s.parent_path === filterPath).sort(byName);
    if (filterPath) {
      filterHost.append(h('span', { class: 'filter-chip' },
        h('span', null, 'VPN Service: ', h('strong', null, svc ? svc.display_name : lastSegment(filterPath))),
        h('a', { href: '#/vpn/sessions', class: 'chip-clear' }, 'Clear filter')));
    }
    count.textContent = `${rows.length.toLocaleString('en-US')} ${rows.length === 1 ? 'session' : 'sessions'}`;
    const endpointName = (s) => nameOf(s.local_endpoint_path, inv.endpoints);
    table = pagedTable({
      caption: 'IPSec Sessions',
      rows,
      key: (s) => s.path,
      filterLabel: 'Filter sessions by name, service, remote IP, local endpoint or tunnel interface',
      filterText: (s) => [s.display_name, s.id, s.service.display_name, s.peer_address, endpointName(s), vtiText(s)].join(' '),
      sort: { column: 0, ascending: true },
      onRedraw: () => paintStatuses(),
      actions: (s) => menuButton({
        ariaLabel: true, name: `Actions for ${s.display_name}`, content: '\u22ee',
        items: () => (ctx.isAdmin ? [
          { label: 'Edit', onSelect: () => openSessionForm({ ctx, session: s }) },
          { label: 'Delete', onSelect: () => deleteSession(s) },
          { label: s.enabled === false ? 'Enable' : 'Disable', onSelect: () => toggleSession(s) },
          { label: 'Download Config', onSelect: () => downloadConfig(s, ctx) },
        ] : [
          { label: 'Download Config', onSelect: () => downloadConfig(s, ctx) },
        ]),
      }),
      expand: {
        label: (s) => `Expand ${s.display_name}`,
        expanded,
        render: (s) => sessionDetails(s),
      },
      columns: [
        { label: 'Name', className: 'col-name', sortKey: (s) => s.display_name, render: (s) => h('span', { class: 'obj-name', title: s.display_name }, s.display_name) },
        { label: 'VPN Service', sortKey: (s) => s.service.display_name, render: (s) => s.service.display_name },
        { label: 'Remote IP', className: 'mono', sortKey: (s) => s.peer_address, render: (s) => s.peer_address },
        { label: 'Local Endpoint', sortKey: endpointName, render: endpointName },
        { label: 'Tunnel Interface', className: 'mono', sortKey: (s) => vtiText(s), render: (s) => vtiText(s) },
        { label: 'Admin Status', sortKey: (s) => (s.enabled === false ? 1 : 0), render: (s) => h('span', { 'data-admin-for': s.path }, adminStatus(s.enabled !== false)) },
        { label: 'Status', className: 'col-status', render: (s) => h('span', { 'data-status-for': s.path, class: 'status-slot' }, statusNode(null)) },
      ],
      empty: emptyState(
        svc ? `No IPSec sessions yet in ${svc.display_name}` : 'No IPSec sessions yet',
        inv.services.length
          ? 'Add a route-based session with Add IPSec Session > Route Based: it needs a VPN service, a local endpoint, the remote site\u2019s IP and a tunnel interface.'
          : 'Start on the VPN Services tab: add a VPN service, then come back here to add its route-based sessions.',
        ctx.isAdmin && inv.services.length
          ? h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => openSessionForm({ ctx, servicePath: filterPath || undefined }) }, 'Add Route Based Session')
          : null),
    });
    clear(body).append(table.el);
    if (rows.length) poll();
  }).catch((err) => {
    if (!ctx.current() || err.status === 401) return;
    clear(body).append(errorBanner(`Could not load the IPSec sessions: ${err.message}`, () => ctx.refresh()));
  });

  function sessionDetails(s) {
    return h('div', { class: 'details' },
      h('section', { class: 'details-section' }, h('h3', null, 'Configuration'),
        h('div', { 'data-config-for': s.path }, sessionConfig(s))),
      h('section', { class: 'details-section' }, h('h3', null, 'Status'),
        h('div', { 'data-status-details-for': s.path }, statusDetails(statuses.get(s.path)))));
  }

  function sessionConfig(s) {
    const ep = inv.endpoints.find((e) => e.path === s.local_endpoint_path);
    const m = s.tcp_mss_clamping;
    const mssText = m && ((m.direction && m.direction !== 'NONE') || m.max_segment_size)
      ? `${label(MSS_DIRECTIONS, m.direction || 'NONE')}, ${m.max_segment_size ? `MSS ${m.max_segment_size}` : 'MSS derived from the VTI MTU'}`
      : 'Off';
    const cfg = detailList([
      ['Name', s.display_name],
      ['ID', s.id],
      ['Path', h('code', null, s.path)],
      ['VPN Service', `${s.service.display_name} (${s.service.gateway.display_name})`],
      ['Local Endpoint', ep ? `${ep.display_name} (${ep.local_address})` : lastSegment(s.local_endpoint_path)],
      ['Remote IP', s.peer_address],
      ['Remote ID', s.peer_id],
      ['Description', s.description || ''],
      ['Admin Status', s.enabled === false ? 'Disabled' : 'Enabled'],
      ['Compliance Suite', label(SUITES, s.compliance_suite || 'NONE')],
      ['Authentication Mode', s.authentication_mode === 'CERTIFICATE' ? 'Certificate' : 'PSK'],
      ['Pre-shared Key', s.authentication_mode === 'CERTIFICATE' ? 'Not used' : 'Set (never displayed)'],
      ['Tunnel Interface', vtiText(s)],
      ['IKE Profile', nameOf(s.ike_profile_path, profiles.ike)],
      ['IPSec Profile', nameOf(s.tunnel_profile_path, profiles.ipsec)],
      ['DPD Profile', nameOf(s.dpd_profile_path, profiles.dpd)],
      ['Connection Initiation Mode', label(INIT_MODES, s.connection_initiation_mode || 'INITIATOR')],
      ['TCP MSS Clamping', mssText],
      ['UDP Encapsulation', s.udp_encapsulation === false ? 'Off (plain ESP unless NAT is detected)' : 'On (ESP in UDP 4500)'],
      ['Tags', formatTags(s.tags)],
      ['Created', `${fmtTime(s._create_time)}${s._create_user ? ` by ${s._create_user}` : ''}`],
      ['Last Modified', `${fmtTime(s._last_modified_time)}${s._last_modified_user ? ` by ${s._last_modified_user}` : ''}`],
      ['Revision', String(s._revision ?? '')],
    ]);
    return cfg;
  }

  async function deleteSession(s) {
    const ok = await confirmDialog({
      title: 'Delete IPSec Session',
      message: `Delete the IPSec session "${s.display_name}" to ${s.peer_address}? Its tunnel goes down at once.`,
      confirmLabel: 'Delete',
      danger: true,
    });
    if (!ok) return;
    try {
      await api.del(s.path);
      expanded.delete(s.path);
      toast(`IPSec session ${s.display_name} deleted.`);
      ctx.refresh();
    } catch (err) {
      if (err.status !== 401) notice.show('error', `Could not delete ${s.display_name}: ${err.message}`);
    }
  }

  async function toggleSession(s) {
    const enable = s.enabled === false;
    try {
      await api.patch(s.path, { enabled: enable });
      toast(`IPSec session ${s.display_name} ${enable ? 'enabled' : 'disabled'}.`);
      ctx.refresh();
    } catch (err) {
      if (err.status !== 401) notice.show('error', `Could not ${enable ? 'enable' : 'disable'} ${s.display_name}: ${err.message}`);
    }
  }
}

function statusDetails(entry) {
  if (!entry) return h('p', { class: 'muted' }, 'Checking the status\u2026');
  if (entry.err) return h('p', { class: 'muted' }, `Status unavailable: ${entry.err}`);
  const st = entry.st;
  if (!st) return h('p', { class: 'muted' }, 'No status reported.');
  const t = statusText(st);
  const ike = st.ike_status || {};
  const c = st.aggregate_traffic_counters || {};
  const sas = st.sas || {};
  const pairs = [
    ['Status', statusNode(st)],
    ['IKE Session State', ike.ike_session_state || ''],
    ['Fail Reason', ike.fail_reason || (t.word === 'Up' ? 'None' : '')],
  ];
  if (st.alarm && (st.alarm.message || st.alarm.error_id)) {
    pairs.push(['Alarm', h('div', { class: 'alarm' },
      st.alarm.error_id ? h('span', { class: 'alarm-id' }, st.alarm.error_id) : null,
      h('span', { class: 'alarm-text' }, st.alarm.message || ''))]);
  }
  pairs.push(
    ['Tunnels', `${st.negotiated_tunnels ?? 0} of ${st.total_tunnels ?? 0} negotiated${st.failed_tunnels ? `, ${st.failed_tunnels} failed` : ''}`],
    ['VTI Interface', st.interface_name || ''],
    ['Established', st.established_time ? fmtTime(st.established_time) : ''],
    ['Traffic In', `${fmtBytes(c.bytes_in ?? 0)}, ${c.packets_in ?? 0} packets`],
    ['Traffic Out', `${fmtBytes(c.bytes_out ?? 0)}, ${c.packets_out ?? 0} packets`],
    ['Dropped', `${c.dropped_packets_in ?? 0} in, ${c.dropped_packets_out ?? 0} out`],
  );
  if (sas.ike) {
    const i = sas.ike;
    pairs.push(['IKE SA', `${i.algorithms || ''}${i.role ? `, ${String(i.role).toLowerCase()}` : ''}${i.spi_i ? `, SPIs ${i.spi_i}/${i.spi_r}` : ''}${typeof i.age_seconds === 'number' ? `, age ${fmtDuration(i.age_seconds)}` : ''}${typeof i.rekey_in_seconds === 'number' ? `, rekey in ${fmtDuration(i.rekey_in_seconds)}` : ''}${i.udp_encapsulation ? ', UDP-encapsulated' : ''}`]);
  }
  for (const [n, ch] of (sas.child || []).entries()) {
    pairs.push([`Child SA ${n + 1}`, `${ch.algorithms || ''}${ch.spi_in ? `, SPIs in ${ch.spi_in} / out ${ch.spi_out}` : ''}${typeof ch.age_seconds === 'number' ? `, age ${fmtDuration(ch.age_seconds)}` : ''}${typeof ch.rekey_in_seconds === 'number' ? `, rekey in ${fmtDuration(ch.rekey_in_seconds)}` : ''}`]);
  }
  pairs.push(['Last Update', st.last_update_timestamp ? fmtTime(st.last_update_timestamp) : '']);
  return detailList(pairs);
}

async function downloadConfig(s, ctx) {
  const ok = await confirmDialog({
    title: 'Download Config',
    message: ctx.isAdmin
      ? `The configuration file for ${s.display_name} contains the pre-shared key in clear text. Store it securely and share it only with the administrator of the remote site.`
      : `The configuration file for ${s.display_name} normally contains the pre-shared key; in your copy it is hidden, since auditors never see secrets.`,
    confirmLabel: 'Download',
  });
  if (!ok) return;
  try {
    const text = await api.get(`${s.path}/peer-config`, { text: true });
    const blob = new Blob([text], { type: 'text/plain;charset=utf-8' });
    const href = URL.createObjectURL(blob);
    const a = h('a', { href, download: fileName(s.display_name), hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(href), 30000);
    toast(`Configuration of ${s.display_name} downloaded.`);
  } catch (err) {
    if (err.status !== 401) toast(`Could not download the configuration of ${s.display_name}: ${err.message}`, 'error');
  }
}
