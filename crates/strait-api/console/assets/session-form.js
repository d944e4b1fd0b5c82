// Add IPSec Session > Route Based (and Edit IPSec Session): the seed page's form, field
// by field and in its order, with Advanced Properties, inline creation of a local endpoint
// and of profiles, the compliance-suite rules, and the API's problems next to the fields.

import * as api from './api.js';
import { h, uid, srOnly } from './dom.js';
import { openDialog, menuButton, toast } from './ui.js';
import {
  field, textInput, select, setOptions, switchInput, descriptionField, tagsField, parseTags,
  formatTags, checkTags, idFromName, parseCidr, intOrText, FormErrors, formBanner, focusField, createProblems,
} from './forms.js';
import { loadServices, loadEndpoints, loadProfiles, defaultProfilePath, PROFILE_KINDS, byName, childPath } from './data.js';
import { openEndpointForm } from './endpoints.js';
import { openProfileForm } from './profiles.js';
import { stripMeta } from './services.js';
import { loadCertificates } from './certificates.js';
import { siteCertInfo } from './cert-info.js';

export const SUITES = [
  ['NONE', 'None', null],
  ['CNSA', 'CNSA', 'cnsa'],
  ['SUITE_B_GCM_128', 'SUITE-B-GCM-128', 'suite-b-gcm-128'],
  ['SUITE_B_GCM_256', 'SUITE-B-GCM-256', 'suite-b-gcm-256'],
  ['PRIME', 'PRIME', 'prime'],
  ['FOUNDATION', 'FOUNDATION', 'foundation'],
  ['FIPS', 'FIPS', 'fips'],
];

export const ON_DEMAND_REASON = 'Do not use with the route-based VPN: this mode applies to policy-based VPN only';

export const INIT_MODES = [
  { value: 'INITIATOR', label: 'Initiator' },
  { value: 'ON_DEMAND', label: 'On Demand', disabled: true, title: ON_DEMAND_REASON },
  { value: 'RESPOND_ONLY', label: 'Respond Only' },
];

export const MSS_DIRECTIONS = [
  ['NONE', 'None'], ['INBOUND_CONNECTION', 'Inbound Connection'], ['OUTBOUND_CONNECTION', 'Outbound Connection'], ['BOTH', 'Both'],
];

const SUITE_NOTE = 'Locked: set by the compliance suite';

function suiteProfile(kind, suite) {
  const s = SUITES.find(([v]) => v === suite);
  if (!s || !s[2]) return null;
  return `${PROFILE_KINDS[kind].base}/${s[2]}-ipsec-${kind === 'ike' ? 'ike' : 'tunnel'}-profile`;
}

function cidrText(session) {
  const subnets = (session && session.tunnel_interfaces && session.tunnel_interfaces[0] && session.tunnel_interfaces[0].ip_subnets) || [];
  return subnets.map((s) => `${(s.ip_addresses || [])[0] || ''}/${s.prefix_length}`).join(', ');
}

/** The body's tunnel_interfaces from what the user typed (shape errors are the API's to word). */
function tunnelInterfaces(text, original) {
  const parts = String(text || '').split(',').map((s) => s.trim()).filter(Boolean);
  if (!parts.length) return undefined;
  const ip_subnets = parts.map((p) => {
    const c = parseCidr(p);
    if (c) return { ip_addresses: [c.ip], prefix_length: c.prefix };
    const [ip, prefix] = p.split('/');
    const s = { ip_addresses: [ip.trim()] };
    if (prefix !== undefined) s.prefix_length = intOrText(prefix);
    return s;
  });
  const ti = { ip_subnets };
  const o = original && original.tunnel_interfaces && original.tunnel_interfaces[0];
  if (o) {
    if (o.id) ti.id = o.id;
    if (o.display_name) ti.display_name = o.display_name;
  }
  return [ti];
}

/** A select with a "More actions for <label>" menu beside it. */
function selectWithMenu(label, items) {
  const sel = select([], '');
  const more = menuButton({ name: `More actions for ${label}`, content: '\u22ee', className: 'icon-btn more-btn', items });
  const control = h('div', { class: 'control-row' }, sel, more);
  return { sel, more, control };
}

/**
 * Open the form. Create: `servicePath` preselects the VPN service. Edit: `session` (a
 * session object with `path`); the form loads its current version first.
 */
let opening = false;

export async function openSessionForm(opts) {
  if (opening) return null; // a second click while the first form loads
  opening = true;
  try {
    return await buildSessionForm(opts);
  } finally {
    opening = false;
  }
}

async function buildSessionForm({ ctx, servicePath, session }) {
  const editing = !!session;
  let original = null;
  const banner = formBanner();

  // --- the seed's fields, in its order -------------------------------------------------
  const name = field({ label: 'Name', control: textInput({ maxlength: 255 }), required: true });
  const serviceSel = select([{ value: '', label: 'Loading\u2026', disabled: true }], '');
  const service = field({ label: 'VPN Service', control: serviceSel, required: true });

  const le = selectWithMenu('Local Endpoint', () => [
    { label: 'Add Local Endpoint', disabled: !serviceSel.value, reason: serviceSel.value ? null : 'Select a VPN service first', onSelect: addEndpoint },
  ]);
  const localEndpoint = field({ label: 'Local Endpoint', control: le.control, input: le.sel, required: true });

  const remoteIp = field({ label: 'Remote IP', control: textInput({ placeholder: 'e.g. 203.0.113.2', maxlength: 64 }), required: true, hint: 'The public IP address of the remote site.' });
  const desc = descriptionField('');
  const enabledSw = switchInput(true);
  const adminStatus = field({ label: 'Admin Status', control: enabledSw, input: enabledSw.input });
  const suite = field({ label: 'Compliance Suite', control: select(SUITES.map(([v, l]) => [v, l]), 'NONE') });
  const tunnel = field({
    label: 'Tunnel Interface', control: textInput({ placeholder: 'e.g. 169.254.10.1/30', maxlength: 100 }), required: true,
    hint: 'This gateway\u2019s VTI address in CIDR notation, e.g. 169.254.10.1/30 (add an IPv6 one after a comma).',
  });
  const authMode = field({ label: 'Authentication Mode', control: select([['PSK', 'PSK'], ['CERTIFICATE', 'Certificate']], 'PSK') });

  const pskInput = textInput({ type: 'password', maxlength: 128, autocomplete: 'new-password' });
  const pskToggle = h('button', { type: 'button', class: 'btn btn-ghost btn-sm psk-toggle', 'aria-pressed': 'false' },
    h('span', { class: 'psk-toggle-text', 'aria-hidden': 'true' }, 'Show'), srOnly('Show pre-shared key'));
  pskToggle.addEventListener('click', () => {
    const show = pskToggle.getAttribute('aria-pressed') !== 'true';
    pskToggle.setAttribute('aria-pressed', show ? 'true' : 'false');
    pskInput.type = show ? 'text' : 'password';
    pskToggle.querySelector('.psk-toggle-text').textContent = show ? 'Hide' : 'Show';
  });
  const psk = field({
    label: 'Pre-shared Key', control: h('div', { class: 'control-row' }, pskInput, pskToggle), input: pskInput,
    required: !editing,
    hint: editing ? 'Leave empty to keep the stored key (it is never shown). Up to 128 characters.' : 'The secret agreed with the remote site, up to 128 characters.',
  });
  const remoteId = field({ label: 'Remote ID', control: textInput({ maxlength: 1024 }), required: true });
  // Certificate mode: the local endpoint's site certificate (NSX: "the site certificate that
  // was used to configure the local endpoint is used for authentication").
  let certs = [];
  const certInfo = siteCertInfo({ onEditEndpoint: editEndpoint });
  const tags = tagsField([]);

  // --- Advanced Properties ------------------------------------------------------------
  const advId = uid('adv');
  const advToggle = h('button', { type: 'button', class: 'disclosure', 'aria-expanded': 'false', 'aria-controls': advId },
    h('span', { class: 'chevron', 'aria-hidden': 'true' }), 'Advanced Properties');
  const profileFields = {};
  const profileLists = { ike: [], ipsec: [], dpd: [] };
  for (const kind of ['ike', 'ipsec', 'dpd']) {
    const k = PROFILE_KINDS[kind];
    const w = selectWithMenu(k.plural, () => [{
      label: `Add ${k.noun}`,
      disabled: kind !== 'dpd' && suite.input.value !== 'NONE',
      reason: kind !== 'dpd' && suite.input.value !== 'NONE' ? SUITE_NOTE : null,
      onSelect: () => addProfile(kind),
    }]);
    profileFields[kind] = { ...field({ label: k.plural, control: w.control, input: w.sel }), sel: w.sel, more: w.more };
  }
  const initMode = field({ label: 'Connection Initiation Mode', control: select(INIT_MODES, 'INITIATOR'), hint: `On Demand: ${ON_DEMAND_REASON}.` });
  const mssSw = switchInput(false);
  const mss = field({ label: 'TCP MSS Clamping', control: mssSw, input: mssSw.input, hint: 'Reduce the MSS of TCP sessions through the tunnel.' });
  const mssDir = field({ label: 'TCP MSS Direction', control: select(MSS_DIRECTIONS, 'BOTH') });
  const mssValue = field({ label: 'TCP MSS Value', control: textInput({ inputmode: 'numeric', placeholder: 'Derived from the VTI MTU', maxlength: 6 }), hint: '108 to 8902; blank = derived from the VTI MTU.' });
  const advanced = h('div', { id: advId, class: 'advanced form-grid', hidden: true },
    profileFields.ike.wrap, profileFields.ipsec.wrap, profileFields.dpd.wrap, initMode.wrap, mss.wrap, mssDir.wrap, mssValue.wrap);
  const advFields = new Set([profileFields.ike, profileFields.ipsec, profileFields.dpd, initMode, mss, mssDir, mssValue]);
  function setAdvanced(open) {
    advToggle.setAttribute('aria-expanded', open ? 'true' : 'false');
    advanced.hidden = !open;
  }
  advToggle.addEventListener('click', () => setAdvanced(advToggle.getAttribute('aria-expanded') !== 'true'));

  const errors = new FormErrors(banner, [
    [['display_name', 'id'], name],
    [['parent_path', 'service'], service],
    ['local_endpoint_path', localEndpoint],
    ['peer_address', remoteIp],
    ['description', desc],
    ['enabled', adminStatus],
    ['compliance_suite', suite],
    ['tunnel_interfaces', tunnel],
    ['authentication_mode', authMode],
    ['psk', psk],
    ['peer_id', remoteId],
    ['tags', tags],
    ['ike_profile_path', profileFields.ike],
    ['tunnel_profile_path', profileFields.ipsec],
    ['dpd_profile_path', profileFields.dpd],
    ['connection_initiation_mode', initMode],
    ['tcp_mss_clamping.direction', mssDir],
    ['tcp_mss_clamping.max_segment_size', mssValue],
    ['tcp_mss_clamping', mss],
  ], (f) => {
    if (advFields.has(f)) setAdvanced(true);
    if ((f === mssDir || f === mssValue) && !mssSw.input.checked) { mssSw.input.checked = true; mssSw.sync(); syncMss(); }
  });

  // --- behaviour ------------------------------------------------------------------------
  function syncMss() {
    const on = mssSw.input.checked;
    mssDir.wrap.hidden = !on;
    mssValue.wrap.hidden = !on;
  }
  mssSw.input.addEventListener('change', syncMss);

  function syncAuth() {
    const cert = authMode.input.value === 'CERTIFICATE';
    psk.wrap.hidden = cert;
    pskInput.disabled = cert;
    remoteId.setHint(cert
      ? 'The common name (CN) or distinguished name (DN) in the peer site\u2019s certificate, e.g. Site123 or C=US, O=MyCompany, CN=Site123 (an email attribute goes last: ..., CN=Site123, emailAddress=admin@example.com).'
      : 'The IP address or FQDN of the peer site, e.g. 203.0.113.2 or vpn.example.com.');
    syncCertInfo();
  }
  function syncCertInfo() {
    certInfo.update({
      mode: authMode.input.value,
      endpoint: endpoints.find((x) => x.path === le.sel.value) || null,
      certs,
    });
  }
  authMode.input.addEventListener('change', syncAuth);

  function syncSuite(fromUser) {
    const v = suite.input.value;
    const on = v !== 'NONE';
    const label = (SUITES.find(([x]) => x === v) || [])[1];
    if (on) {
      authMode.input.value = 'CERTIFICATE';
      authMode.input.disabled = true;
      authMode.setHint(`${SUITE_NOTE} ${label}.`);
      for (const kind of ['ike', 'ipsec']) {
        const pf = profileFields[kind];
        const p = suiteProfile(kind, v);
        ensureOption(kind, p);
        pf.sel.value = p;
        pf.sel.disabled = true;
        pf.setHint(`${SUITE_NOTE} ${label}.`);
      }
    } else {
      authMode.input.disabled = false;
      authMode.setHint('');
      if (fromUser) authMode.input.value = 'PSK';
      for (const kind of ['ike', 'ipsec']) {
        const pf = profileFields[kind];
        pf.sel.disabled = false;
        pf.setHint('');
        if (fromUser) pf.sel.value = defaultProfilePath(kind);
      }
    }
    syncAuth();
  }
  suite.input.addEventListener('change', () => syncSuite(true));

  function ensureOption(kind, path) {
    const sel = profileFields[kind].sel;
    if (path && ![...sel.options].some((o) => o.value === path)) {
      sel.append(h('option', { value: path }, path.split('/').pop()));
    }
  }

  function fillProfiles(kind, selectPath) {
    const list = profileLists[kind].slice().sort(byName);
    const sel = profileFields[kind].sel;
    const keep = selectPath || sel.value || defaultProfilePath(kind);
    setOptions(sel, list.map((p) => ({ value: p.path, label: p.display_name || p.id })), keep);
    ensureOption(kind, keep);
    sel.value = keep;
  }

  let services = [];
  function fillServices(selectPath) {
    const groups = new Map();
    for (const s of services.slice().sort(byName)) {
      const g = `${s.gateway.display_name} (${s.gateway.tier})`;
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push({ value: s.path, label: s.display_name || s.id });
    }
    const opts = [{ value: '', label: services.length ? 'Select a VPN service' : 'No VPN service yet', disabled: true }];
    for (const [g, options] of groups) opts.push({ group: g, options });
    setOptions(serviceSel, opts, '');
    if (selectPath && services.some((s) => s.path === selectPath)) serviceSel.value = selectPath;
    else if (services.length === 1 && !editing) serviceSel.value = services[0].path;
    else serviceSel.value = '';
    service.setHint(services.length ? '' : 'Add a VPN service on the VPN Services tab first.');
  }

  let endpoints = [];
  let endpointSeq = 0;
  async function fillEndpoints(selectPath) {
    const svc = serviceSel.value;
    const seq = ++endpointSeq;
    if (!svc) {
      endpoints = [];
      setOptions(le.sel, [{ value: '', label: 'Select a VPN service first', disabled: true }], '');
      le.sel.value = '';
      localEndpoint.setHint('');
      return;
    }
    try {
      const list = await loadEndpoints(svc);
      if (seq !== endpointSeq) return;
      endpoints = list.slice().sort(byName);
    } catch (err) {
      if (seq !== endpointSeq) return;
      endpoints = [];
      if (err.status !== 401) localEndpoint.setHint(`Could not load the local endpoints: ${err.message}`);
    }
    const keep = selectPath || le.sel.value;
    setOptions(le.sel, [
      { value: '', label: endpoints.length ? 'Select a local endpoint' : 'No local endpoint yet', disabled: true },
      ...endpoints.map((e) => ({ value: e.path, label: e.display_name || e.id })),
    ], '');
    if (keep && endpoints.some((e) => e.path === keep)) le.sel.value = keep;
    else if (endpoints.length === 1) le.sel.value = endpoints[0].path;
    else le.sel.value = '';
    syncEndpointHint();
  }
  function syncEndpointHint() {
    const e = endpoints.find((x) => x.path === le.sel.value);
    if (e) localEndpoint.setHint(`IKE runs on ${e.local_address}${e.local_id && e.local_id !== e.local_address ? ` (local ID ${e.local_id})` : ''}.`);
    else if (serviceSel.value && !endpoints.length) localEndpoint.setHint('This VPN service has no local endpoint yet: add one with More actions.');
    else localEndpoint.setHint('');
    syncCertInfo();
  }
  le.sel.addEventListener('change', syncEndpointHint);
  serviceSel.addEventListener('change', () => fillEndpoints());

  function addEndpoint() {
    openEndpointForm({
      servicePath: serviceSel.value,
      lockService: true,
      onSaved: async (ep) => { await fillEndpoints(ep.path); le.sel.focus(); },
    });
  }

  function editEndpoint(ep) {
    openEndpointForm({
      endpoint: ep,
      onSaved: async () => {
        try { certs = await loadCertificates(); } catch { /* keep the list */ }
        await fillEndpoints(ep.path);
        le.sel.focus();
      },
    });
  }

  function addProfile(kind) {
    openProfileForm({
      kind,
      onSaved: async (p) => {
        try { profileLists[kind] = await loadProfiles(kind); } catch { profileLists[kind].push(p); }
        fillProfiles(kind, p.path);
        profileFields[kind].sel.focus();
      },
    });
  }

  // --- load (before the dialog opens, so that it opens complete) -----------------------
  syncMss();
  syncAuth();
  try {
    const [svcs, ike, ipsec, dpd, fresh, cs] = await Promise.all([
      loadServices(), loadProfiles('ike'), loadProfiles('ipsec'), loadProfiles('dpd'),
      editing ? api.get(session.path) : Promise.resolve(null),
      // only for the Site Certificate line: without it the form still works
      loadCertificates().catch(() => []),
    ]);
    services = svcs;
    certs = cs;
    profileLists.ike = ike;
    profileLists.ipsec = ipsec;
    profileLists.dpd = dpd;
    original = fresh;
  } catch (err) {
    if (err.status !== 401) toast(`Could not open the form: ${err.message}`, 'error');
    return null;
  }
  const o = original;
  fillServices(o ? o.parent_path : servicePath);
  for (const kind of ['ike', 'ipsec', 'dpd']) fillProfiles(kind, o ? o[PROFILE_KINDS[kind].field] : null);
  if (o) {
    serviceSel.disabled = true;
    service.setHint('A session stays in its VPN service.');
    name.input.value = o.display_name || o.id;
    remoteIp.input.value = o.peer_address || '';
    desc.input.value = o.description || '';
    desc.input.updateCounter();
    enabledSw.input.checked = o.enabled !== false;
    enabledSw.sync();
    suite.input.value = o.compliance_suite || 'NONE';
    tunnel.input.value = cidrText(o);
    authMode.input.value = o.authentication_mode || 'PSK';
    remoteId.input.value = o.peer_id || '';
    tags.input.value = formatTags(o.tags);
    initMode.input.value = o.connection_initiation_mode || 'INITIATOR';
    const m = o.tcp_mss_clamping;
    if (m && ((m.direction && m.direction !== 'NONE') || m.max_segment_size)) {
      mssSw.input.checked = true;
      mssSw.sync();
      mssDir.input.value = m.direction || 'NONE';
      mssValue.input.value = m.max_segment_size ? String(m.max_segment_size) : '';
    }
  }
  syncMss();
  syncSuite(false);
  await fillEndpoints(o ? o.local_endpoint_path : null);


  // --- dialog ---------------------------------------------------------------------------
  const formId = uid('session-form');
  const saveBtn = h('button', { type: 'submit', class: 'btn btn-primary', form: formId }, 'Save');
  const dlg = openDialog({
    title: editing ? 'Edit IPSec Session' : 'Add IPSec Session - Route Based',
    className: 'dialog-lg',
    onCancel: () => true,
    build(body, d) {
      const form = h('form', { class: 'form', id: formId, novalidate: true },
        banner,
        h('div', { class: 'form-note' }, h('span', { class: 'req', 'aria-hidden': 'true' }, '*'), ' Required'),
        h('div', { class: 'form-grid' },
          name.wrap, service.wrap, localEndpoint.wrap, remoteIp.wrap, desc.wrap, adminStatus.wrap, suite.wrap,
          tunnel.wrap, authMode.wrap, certInfo.wrap, psk.wrap, remoteId.wrap, tags.wrap),
        h('div', { class: 'advanced-head' }, advToggle),
        advanced);
      form.addEventListener('submit', (e) => { e.preventDefault(); save(); });
      body.append(form);
      d.footer.append(d.cancelButton(), saveBtn);
    },
    initialFocus: () => name.input,
  });

  // --- save ---------------------------------------------------------------------------
  function clientProblems() {
    const p = [];
    const req = (f, apiField, what) => { if (!f.input.value.trim()) p.push({ field: apiField, message: `is required: ${what}` }); };
    req(name, 'display_name', 'enter a name for the session');
    if (!serviceSel.value) p.push({ field: 'parent_path', message: 'is required: select the VPN service of this session' });
    if (!le.sel.value) p.push({ field: 'local_endpoint_path', message: serviceSel.value && !endpoints.length ? 'is required: add a local endpoint with More actions' : 'is required: select the local endpoint IKE runs on' });
    req(remoteIp, 'peer_address', 'enter the public IP address of the remote site');
    const t = tunnel.input.value.trim();
    if (!t) p.push({ field: 'tunnel_interfaces', message: 'is required: enter the VTI address in CIDR notation, e.g. 169.254.10.1/30' });
    else if (t.split(',').map((s) => s.trim()).filter(Boolean).some((s) => !parseCidr(s))) p.push({ field: 'tunnel_interfaces', message: `"${t}" is not in CIDR notation; enter an address and prefix length, e.g. 169.254.10.1/30` });
    if (authMode.input.value === 'PSK' && !editing && !pskInput.value) p.push({ field: 'psk', message: 'is required with PSK authentication: enter the key agreed with the remote site' });
    req(remoteId, 'peer_id', authMode.input.value === 'PSK' ? 'enter the remote site\u2019s IP address or FQDN' : 'enter the CN or DN of the remote site\u2019s certificate');
    const tp = checkTags(tags.input.value);
    if (tp) p.push({ field: 'tags', message: tp });
    if (mssSw.input.checked && mssValue.input.value.trim() && !/^\d+$/.test(mssValue.input.value.trim())) {
      p.push({ field: 'tcp_mss_clamping.max_segment_size', message: 'must be a whole number from 108 to 8902, or blank' });
    }
    return p;
  }

  function buildBody() {
    const b = o ? stripMeta(o) : { resource_type: 'RouteBasedIPSecVpnSession' };
    b.resource_type = 'RouteBasedIPSecVpnSession';
    b.display_name = name.input.value.trim();
    b.enabled = enabledSw.input.checked;
    b.compliance_suite = suite.input.value;
    b.authentication_mode = authMode.input.value;
    const set = (k, v) => { if (v === undefined || v === '') delete b[k]; else b[k] = v; };
    set('local_endpoint_path', le.sel.value);
    set('peer_address', remoteIp.input.value.trim());
    set('description', desc.input.value);
    set('peer_id', remoteId.input.value.trim());
    set('tunnel_interfaces', tunnelInterfaces(tunnel.input.value, o));
    delete b.psk;
    if (authMode.input.value === 'PSK' && pskInput.value) b.psk = pskInput.value;
    const tg = parseTags(tags.input.value);
    if (tg.length) b.tags = tg; else delete b.tags;
    b.ike_profile_path = profileFields.ike.sel.value;
    b.tunnel_profile_path = profileFields.ipsec.sel.value;
    b.dpd_profile_path = profileFields.dpd.sel.value;
    b.connection_initiation_mode = initMode.input.value;
    if (mssSw.input.checked) {
      const m = { direction: mssDir.input.value };
      const v = intOrText(mssValue.input.value);
      if (v !== undefined) m.max_segment_size = v;
      b.tcp_mss_clamping = m;
    } else {
      delete b.tcp_mss_clamping;
    }
    return b;
  }

  async function save() {
    const local = clientProblems();
    // Without a name or a service there is nothing to address: show what is missing.
    if (!name.input.value.trim() || !serviceSel.value || local.some((p) => p.field === 'tags')) {
      focusField(errors.show(local));
      return;
    }
    const body = buildBody();
    const id = idFromName(body.display_name);
    const path = o ? o.path : childPath(serviceSel.value, 'sessions', id);
    dlg.setBusy(true);
    try {
      await api.put(path, body);
      errors.clear();
      dlg.close();
      toast(`IPSec session ${body.display_name} saved.`);
      if (ctx) ctx.reload();
    } catch (err) {
      dlg.setBusy(false);
      if (dlg.closed) return;
      if (err.status === 401) {
        errors.show([{ field: '', message: 'Your session ended before the session was saved; log in again and press Save.' }]);
        return;
      }
      // The API's problems win; the console's own checks fill the fields it did not name.
      // An existing id is reported on _revision, no field of the form: a banner, and the
      // Name field marked as the thing to change.
      const fromApi = createProblems(err, !o, 'An IPSec session', id, 'in this VPN service');
      const named = new Set(fromApi.map((p) => errors.fieldFor(p.field)).filter(Boolean));
      const extra = local.filter((p) => !named.has(errors.fieldFor(p.field)));
      const head = err.status === 412
        ? 'Someone else changed this session since you opened it. Your input is kept: cancel and open the session again to see their change.'
        : undefined;
      focusField(errors.show([...fromApi, ...extra], head));
    }
  }
  return dlg;
}
