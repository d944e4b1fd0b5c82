// The tier-0 BGP forms: Edit BGP (the locale service's BgpRoutingConfig), Add/Edit BGP
// Neighbor (BgpNeighborConfig, with its write-only password), Edit Route Redistribution
// (the locale service's route_redistribution_config), and a neighbor's received or
// advertised routes. Each form loads the object's current version first and saves it with
// PUT and its `_revision`, so a concurrent change is reported rather than overwritten; the
// API's problems appear next to the fields they name.

import * as api from './api.js';
import { h, uid, srOnly } from './dom.js';
import { openDialog, toast, dataTable, emptyState, loading, errorBanner } from './ui.js';
import {
  field, textInput, select, switchInput, checkboxGroup, idFromName, intOrText,
  FormErrors, formBanner, focusField, createProblems,
} from './forms.js';
import { stripMeta } from './services.js';

export const GR_MODES = [
  ['HELPER_ONLY', 'Helper Only'],
  ['GR_AND_HELPER', 'Graceful Restart and Helper'],
  ['DISABLE', 'Disable'],
];

/** The route types strait redistributes into BGP (docs/api.md), with their labels. */
export const REDISTRIBUTION_TYPES = [
  ['TIER0_CONNECTED', 'Tier-0 Connected', 'the host\u2019s networks, except the uplink, loopback, link-local and the VTIs'],
  ['TIER0_STATIC', 'Tier-0 Static Routes', 'the tier-0\u2019s static routes'],
  ['TIER0_IPSEC_LOCAL_IP', 'IPSec Local IP', 'the local endpoint addresses'],
];

/** The route types a locale service redistributes into BGP (rules and the deprecated list). */
export function redistributedTypes(ls) {
  const out = new Set(ls.route_redistribution_types || []);
  const c = ls.route_redistribution_config;
  if (c && c.bgp_enabled !== false) {
    for (const r of c.redistribution_rules || []) {
      if (!r.destinations || !r.destinations.length || r.destinations.includes('BGP')) {
        for (const t of r.route_redistribution_types || []) out.add(t);
      }
    }
  }
  return [...out];
}

function setInt(b, key, text) {
  const v = intOrText(text);
  if (v === undefined) delete b[key];
  else b[key] = v;
}

const numInput = (value, placeholder) => textInput({ inputmode: 'numeric', maxlength: 10, value: value === undefined || value === null ? '' : String(value), placeholder });

/** The form's dialog with its Save button; `save()` runs on submit. */
function formDialog({ title, className = 'dialog-md', banner, content, save, initialFocus }) {
  const formId = uid('form');
  return openDialog({
    title,
    className,
    build(body, d) {
      const form = h('form', { class: 'form', id: formId, novalidate: true }, banner, content);
      form.addEventListener('submit', (e) => { e.preventDefault(); save(); });
      body.append(form);
      d.footer.append(d.cancelButton(), h('button', { type: 'submit', class: 'btn btn-primary', form: formId }, 'Save'));
    },
    initialFocus,
  });
}

/** An API failure shown in a form: 401, 412 and the rest. */
function showFailure(errors, err, { what, creating = false, id, where } = {}) {
  if (err.status === 401) {
    errors.show([{ field: '', message: `Your session ended before the ${what} was saved; log in again and press Save.` }]);
    return;
  }
  const probs = creating ? createProblems(err, true, `A ${what}`, id, where) : err.problems;
  const head = err.status === 412
    ? `Someone else changed this ${what} since you opened it. Your input is kept: cancel and open it again to see their change.`
    : undefined;
  focusField(errors.show(probs, head));
}

// ---------------------------------------------------------------------------------------
// Edit BGP

/** Edit BGP: the BGP configuration of locale service `ls` of `gateway`. */
export async function openBgpForm({ gateway, ls, onSaved }) {
  let o;
  try {
    o = await api.get(`${ls.path}/bgp`);
  } catch (err) {
    if (err.status !== 401) toast(`Could not open the form: ${err.message}`, 'error');
    return null;
  }
  const gr = o.graceful_restart_config || {};
  const timer = gr.timer || {};
  const banner = formBanner();
  const localAs = field({
    label: 'Local AS', control: textInput({ maxlength: 16, value: o.local_as_num || '', placeholder: 'e.g. 65001' }),
    hint: `The AS of ${gateway.display_name}: ASPLAIN (65001) or ASDOT (1.10). BGP runs once it is set.`,
  });
  const enSw = switchInput(o.enabled !== false);
  const enabled = field({ label: 'BGP', control: enSw, input: enSw.input, hint: 'Disabled: no BGP session runs on this gateway.' });
  const ecmpSw = switchInput(o.ecmp !== false);
  const ecmp = field({ label: 'ECMP', control: ecmpSw, input: ecmpSw.input, hint: 'Install equal-cost paths learned from several neighbors.' });
  const relaxSw = switchInput(o.multipath_relax !== false);
  const relax = field({ label: 'Multipath Relax', control: relaxSw, input: relaxSw.input, hint: 'Paths through different neighbor ASes count as equal for ECMP.' });
  const mode = field({ label: 'Graceful Restart', control: select(GR_MODES, gr.mode || 'HELPER_ONLY') });
  const restart = field({ label: 'Graceful Restart Timer (seconds)', control: numInput(timer.restart_timer ?? 180), hint: '1 to 3600 (default 180).' });
  const stale = field({ label: 'Graceful Restart Stale Timer (seconds)', control: numInput(timer.stale_route_timer ?? 600), hint: '1 to 3600 (default 600).' });
  const aggs = o.route_aggregations || [];
  const agg = field({
    label: 'Route Aggregation', wide: true,
    control: textInput({ maxlength: 4000, value: aggs.map((a) => a.prefix).join(', '), placeholder: 'e.g. 10.1.0.0/16' }),
    hint: 'Aggregates announced when an announced network lies inside them (CIDR, comma-separated); only the aggregate is announced.',
  });
  const ebgp = field({ label: 'eBGP Admin Distance', control: numInput(o.ebgp_admin_distance, 'Default (20)'), hint: '1 to 255; empty for the default.' });
  const ibgp = field({ label: 'iBGP Admin Distance', control: numInput(o.ibgp_admin_distance, 'Default (200)'), hint: '1 to 255; empty for the default.' });
  const errors = new FormErrors(banner, [
    ['local_as_num', localAs],
    ['enabled', enabled],
    ['ecmp', ecmp],
    ['multipath_relax', relax],
    ['graceful_restart_config.timer.restart_timer', restart],
    ['graceful_restart_config.timer.stale_route_timer', stale],
    ['graceful_restart_config', mode],
    ['route_aggregations', agg],
    ['ebgp_admin_distance', ebgp],
    ['ibgp_admin_distance', ibgp],
  ]);
  const dlg = formDialog({
    title: 'Edit BGP',
    banner,
    content: h('div', { class: 'form-grid' }, localAs.wrap, enabled.wrap, ecmp.wrap, relax.wrap, mode.wrap, h('div'),
      restart.wrap, stale.wrap, agg.wrap, ebgp.wrap, ibgp.wrap),
    save,
    initialFocus: () => localAs.input,
  });

  async function save() {
    const b = stripMeta(o);
    b.resource_type = o.resource_type || 'BgpRoutingConfig';
    const as = localAs.input.value.trim();
    if (as) b.local_as_num = as; else delete b.local_as_num;
    b.enabled = enSw.input.checked;
    b.ecmp = ecmpSw.input.checked;
    b.multipath_relax = relaxSw.input.checked;
    const t = {};
    setInt(t, 'restart_timer', restart.input.value);
    setInt(t, 'stale_route_timer', stale.input.value);
    b.graceful_restart_config = { mode: mode.input.value, timer: t };
    const prefixes = agg.input.value.split(',').map((s) => s.trim()).filter(Boolean);
    if (prefixes.length) {
      b.route_aggregations = prefixes.map((p) => {
        const old = aggs.find((a) => a.prefix === p);
        return old ? { ...old } : { prefix: p, summary_only: true };
      });
    } else {
      delete b.route_aggregations;
    }
    setInt(b, 'ebgp_admin_distance', ebgp.input.value);
    setInt(b, 'ibgp_admin_distance', ibgp.input.value);
    dlg.setBusy(true);
    try {
      await api.put(`${ls.path}/bgp`, b);
      errors.clear();
      dlg.close();
      toast(`BGP of ${gateway.display_name} saved.`);
      if (onSaved) onSaved();
    } catch (err) {
      dlg.setBusy(false);
      if (dlg.closed) return;
      showFailure(errors, err, { what: 'BGP configuration' });
    }
  }
  return dlg;
}

// ---------------------------------------------------------------------------------------
// Add / Edit BGP Neighbor

/**
 * Add BGP Neighbor (or Edit, with `neighbor`) under locale service `ls` of `gateway`.
 * `addresses`: the gateway's own addresses [{address, what}], offered as source addresses.
 */
export async function openNeighborForm({ gateway, ls, neighbor, addresses = [], onSaved }) {
  const editing = !!neighbor;
  let o = null;
  if (editing) {
    try {
      o = await api.get(neighbor.path);
    } catch (err) {
      if (err.status !== 401) toast(`Could not open the form: ${err.message}`, 'error');
      return null;
    }
  }
  const p = o || {};
  const banner = formBanner();
  const name = field({ label: 'Name', control: textInput({ maxlength: 255, value: p.display_name || '' }), required: true });
  const ip = field({
    label: 'IP Address', control: textInput({ maxlength: 64, value: p.neighbor_address || '', placeholder: 'e.g. 169.254.10.2' }), required: true,
    hint: 'The neighbor\u2019s address: usually the remote site\u2019s VTI address.',
  });
  const remoteAs = field({
    label: 'Remote AS', control: textInput({ maxlength: 16, value: p.remote_as_num || '', placeholder: 'e.g. 65002' }), required: true,
    hint: 'The neighbor\u2019s AS: ASPLAIN (65002) or ASDOT (1.10).',
  });
  const own = addresses.map((a) => `${a.address} (${a.what})`);
  const source = field({
    label: 'Source Addresses', wide: true,
    control: textInput({ maxlength: 1000, value: (p.source_addresses || []).join(', '), placeholder: addresses[0] ? `e.g. ${addresses[0].address}` : 'e.g. 169.254.10.1' }),
    hint: own.length
      ? `Optional: this gateway\u2019s address for the session (the first is used). Addresses of ${gateway.display_name}: ${own.join(', ')}.`
      : `Optional: this gateway\u2019s address for the session, one of its sessions\u2019 VTI addresses or a local endpoint address (${gateway.display_name} has none yet).`,
  });
  const hold = field({ label: 'Hold Down Time (seconds)', control: numInput(p.hold_down_time ?? 180), hint: '1 to 65535 (default 180).' });
  const keep = field({ label: 'Keep Alive Time (seconds)', control: numInput(p.keep_alive_time ?? 60), hint: 'Shorter than the hold down time (default 60).' });

  const pwInput = textInput({ type: 'password', autocomplete: 'new-password' });
  const pwToggle = h('button', { type: 'button', class: 'btn btn-ghost btn-sm psk-toggle', 'aria-pressed': 'false' },
    h('span', { class: 'psk-toggle-text', 'aria-hidden': 'true' }, 'Show'), srOnly('Show password'));
  pwToggle.addEventListener('click', () => {
    const show = pwToggle.getAttribute('aria-pressed') !== 'true';
    pwToggle.setAttribute('aria-pressed', show ? 'true' : 'false');
    pwInput.type = show ? 'text' : 'password';
    pwToggle.querySelector('.psk-toggle-text').textContent = show ? 'Hide' : 'Show';
  });
  const password = field({
    label: 'Password', control: h('div', { class: 'control-row' }, pwInput, pwToggle), input: pwInput,
    extra: p.has_password ? h('span', { class: 'badge badge-set' }, 'Password set') : null,
    hint: p.has_password
      ? 'A password is set (it is never shown). Leave empty to keep it; type a new one to replace it.'
      : 'Optional TCP MD5 password agreed with the neighbor, up to 32 characters.',
  });
  const clearBox = h('input', { type: 'checkbox', class: 'checkbox', id: uid('cb') });
  const clearPw = p.has_password ? h('span', { class: 'check check-plain' }, clearBox, h('label', { for: clearBox.id }, 'Remove the stored password')) : null;
  clearBox.addEventListener('change', () => {
    pwInput.disabled = clearBox.checked;
    pwToggle.disabled = clearBox.checked;
    if (clearBox.checked) pwInput.value = '';
  });
  if (clearPw) password.wrap.append(clearPw);

  const bfd = p.bfd || {};
  const bfdSw = switchInput(!!bfd.enabled);
  const bfdField = field({ label: 'BFD', control: bfdSw, input: bfdSw.input, hint: 'Bidirectional Forwarding Detection: notices a dead neighbor in milliseconds.' });
  const bfdInterval = field({ label: 'BFD Interval (ms)', control: numInput(bfd.interval ?? 500), hint: '50 to 60000 (default 500).' });
  const bfdMultiple = field({ label: 'BFD Multiplier', control: numInput(bfd.multiple ?? 3), hint: 'Packets missed before the neighbor is down, 2 to 16 (default 3).' });
  const allowSw = switchInput(!!p.allow_as_in);
  const allow = field({ label: 'Allow-as-in', control: allowSw, input: allowSw.input, hint: 'Accept routes whose AS path contains this gateway\u2019s AS.' });
  const families = p.route_filtering || [];
  const familyOf = () => (ip.input.value.includes(':') ? 'IPV6' : 'IPV4');
  const famEntry = (fam) => families.find((f) => f.address_family === fam);
  const initialMax = (famEntry(String(p.neighbor_address || '').includes(':') ? 'IPV6' : 'IPV4') || {}).maximum_routes;
  const maxRoutes = field({ label: 'Maximum Routes', control: numInput(initialMax, 'No limit'), hint: 'Routes accepted from the neighbor, 1 to 1000000; beyond it further routes are dropped.' });

  function syncBfd() {
    bfdInterval.wrap.hidden = !bfdSw.input.checked;
    bfdMultiple.wrap.hidden = !bfdSw.input.checked;
  }
  bfdSw.input.addEventListener('change', syncBfd);
  syncBfd();

  const errors = new FormErrors(banner, [
    [['display_name', 'id'], name],
    ['neighbor_address', ip],
    ['remote_as_num', remoteAs],
    ['source_addresses', source],
    ['hold_down_time', hold],
    ['keep_alive_time', keep],
    ['password', password],
    ['bfd.interval', bfdInterval],
    ['bfd.multiple', bfdMultiple],
    ['bfd', bfdField],
    ['allow_as_in', allow],
    ['route_filtering', maxRoutes],
  ], (f) => {
    if ((f === bfdInterval || f === bfdMultiple) && !bfdSw.input.checked) { bfdSw.input.checked = true; bfdSw.sync(); syncBfd(); }
  });

  const dlg = formDialog({
    title: editing ? 'Edit BGP Neighbor' : 'Add BGP Neighbor',
    banner,
    content: [
      h('div', { class: 'form-note' }, h('span', { class: 'req', 'aria-hidden': 'true' }, '*'), ' Required'),
      h('div', { class: 'form-grid' },
        name.wrap, ip.wrap, remoteAs.wrap, password.wrap, source.wrap, hold.wrap, keep.wrap,
        bfdField.wrap, allow.wrap, bfdInterval.wrap, bfdMultiple.wrap, maxRoutes.wrap),
    ],
    save,
    initialFocus: () => name.input,
  });

  function buildBody() {
    const b = o ? stripMeta(o) : { resource_type: 'BgpNeighborConfig' };
    b.resource_type = 'BgpNeighborConfig';
    delete b.has_password;
    delete b.password;
    b.display_name = name.input.value.trim();
    const set = (k, v) => { if (v === undefined || v === '') delete b[k]; else b[k] = v; };
    set('neighbor_address', ip.input.value.trim());
    set('remote_as_num', remoteAs.input.value.trim());
    const src = source.input.value.split(',').map((s) => s.trim()).filter(Boolean);
    if (src.length) b.source_addresses = src; else delete b.source_addresses;
    setInt(b, 'hold_down_time', hold.input.value);
    setInt(b, 'keep_alive_time', keep.input.value);
    if (clearBox.checked) b.password = '';
    else if (pwInput.value) b.password = pwInput.value;
    if (bfdSw.input.checked) {
      const x = { enabled: true };
      setInt(x, 'interval', bfdInterval.input.value);
      setInt(x, 'multiple', bfdMultiple.input.value);
      b.bfd = x;
    } else {
      b.bfd = { ...(o && o.bfd ? o.bfd : {}), enabled: false };
    }
    b.allow_as_in = allowSw.input.checked;
    // Maximum Routes belongs to the address family of the neighbor's address.
    const fam = familyOf();
    const max = intOrText(maxRoutes.input.value);
    const list = families.map((f) => ({ ...f }));
    let e = list.find((f) => f.address_family === fam);
    if (max !== undefined) {
      if (!e) list.push(e = { address_family: fam, enabled: true });
      e.maximum_routes = max;
    } else if (e) {
      delete e.maximum_routes;
    }
    if (list.length) b.route_filtering = list; else delete b.route_filtering;
    return b;
  }

  async function save() {
    const display = name.input.value.trim();
    if (!display) {
      focusField(errors.show([{ field: 'display_name', message: 'is required: enter a name for the neighbor' }]));
      return;
    }
    const body = buildBody();
    const id = idFromName(display);
    const path = o ? o.path : `${ls.path}/bgp/neighbors/${api.seg(id)}`;
    dlg.setBusy(true);
    try {
      await api.put(path, body);
      pwInput.value = '';
      errors.clear();
      dlg.close();
      toast(`BGP neighbor ${display} saved.`);
      if (onSaved) onSaved();
    } catch (err) {
      dlg.setBusy(false);
      if (dlg.closed) return;
      showFailure(errors, err, { what: 'BGP neighbor', creating: !o, id, where: `on ${gateway.display_name}` });
    }
  }
  return dlg;
}

// ---------------------------------------------------------------------------------------
// Edit Route Redistribution

/** Edit Route Redistribution of locale service `ls`: which route types go into BGP. */
export async function openRedistributionForm({ ls, onSaved }) {
  let o;
  try {
    o = await api.get(ls.path);
  } catch (err) {
    if (err.status !== 401) toast(`Could not open the form: ${err.message}`, 'error');
    return null;
  }
  const banner = formBanner();
  const current = redistributedTypes(o);
  const off = o.route_redistribution_config && o.route_redistribution_config.bgp_enabled === false;
  const known = REDISTRIBUTION_TYPES.map(([v]) => v);
  const group = checkboxGroup({
    legend: 'Redistributed into BGP',
    values: known,
    checked: off ? [] : current,
    labelOf: (v) => REDISTRIBUTION_TYPES.find(([x]) => x === v)[1],
    hint: REDISTRIBUTION_TYPES.map(([, l, what]) => `${l}: ${what}`).join('. ') + '.',
  });
  group.wrap.classList.add('checks-plain');
  const others = current.filter((t) => !known.includes(t));
  const errors = new FormErrors(banner, [
    ['route_redistribution_config', group],
    ['route_redistribution_types', group],
  ]);
  const dlg = formDialog({
    title: 'Edit Route Redistribution',
    banner,
    content: h('div', { class: 'form-grid form-grid-1' }, group.wrap,
      others.length ? h('p', { class: 'field-hint' }, `Also redistributed (NSX types that announce nothing on strait, kept as they are): ${others.join(', ')}.`) : null),
    save,
  });

  async function save() {
    const b = stripMeta(o);
    const chosen = group.get();
    const types = off && !chosen.length ? others : [...chosen, ...others];
    const old = o.route_redistribution_config || {};
    const rules = (old.redistribution_rules || []);
    // One rule into BGP carries every type (the deprecated list is folded into it).
    b.route_redistribution_config = {
      ...old,
      bgp_enabled: true,
      ospf_enabled: false,
      redistribution_rules: types.length
        ? [{ ...(rules[0] || {}), name: (rules[0] && rules[0].name) || 'default', destinations: ['BGP'], route_redistribution_types: types }]
        : [],
    };
    delete b.route_redistribution_types;
    dlg.setBusy(true);
    try {
      await api.put(ls.path, b);
      errors.clear();
      dlg.close();
      toast('Route redistribution saved.');
      if (onSaved) onSaved();
    } catch (err) {
      dlg.setBusy(false);
      if (dlg.closed) return;
      showFailure(errors, err, { what: 'locale service' });
    }
  }
  return dlg;
}

// ---------------------------------------------------------------------------------------
// Routes of a neighbor

/** Received (or advertised) routes of a BGP neighbor, in a dialog. */
export function openRoutesDialog({ neighbor, advertised, status }) {
  const title = `${advertised ? 'Advertised Routes' : 'Received Routes'} - ${neighbor.display_name}`;
  const host = h('div', { class: 'table-wrap' }, loading());
  const dlg = openDialog({
    title,
    className: 'dialog-lg',
    build(body, d) {
      body.append(host);
      d.footer.append(d.cancelButton('Close'));
    },
  });
  api.get(`${neighbor.path}/${advertised ? 'advertised-routes' : 'routes'}`).then((r) => {
    if (dlg.closed) return;
    const routes = ((r && r.results) || []).flatMap((x) => (x.edge_node_routes || []).flatMap((e) => e.routes || []));
    const down = status && status.connection_state !== 'ESTABLISHED';
    host.replaceChildren(dataTable({
      caption: title,
      rows: routes,
      key: (x) => `${x.network}|${x.next_hop}`,
      columns: [
        { label: 'Network', className: 'mono', render: (x) => x.network },
        { label: 'Next Hop', className: 'mono', render: (x) => x.next_hop || '\u2014' },
        { label: 'AS Path', className: 'mono', render: (x) => x.as_path || '\u2014' },
        { label: 'Local Pref', className: 'num', render: (x) => (x.local_pref === undefined ? '\u2014' : String(x.local_pref)) },
        { label: 'MED', className: 'num', render: (x) => (x.med === undefined ? '\u2014' : String(x.med)) },
      ],
      empty: emptyState(advertised ? `No routes advertised to ${neighbor.display_name}` : `No routes received from ${neighbor.display_name}`,
        down
          ? 'The BGP session is not established: routes are exchanged once it is.'
          : (advertised ? 'Redistribute networks into BGP (Route Redistribution) to announce them.' : 'The neighbor announces nothing, or the import filter drops it.')),
    }));
  }).catch((err) => {
    if (dlg.closed || err.status === 401) return;
    host.replaceChildren(errorBanner(`Could not load the routes: ${err.message}`));
  });
  return dlg;
}
