// Local Endpoints tab: the address (and IKE identity) each VPN service runs IKE on, with
// the site certificate, trusted CAs and CRLs of certificate authentication; and the
// Add/Edit Local Endpoint form, also opened inline from the session form.

import * as api from './api.js';
import { h, clear } from './dom.js';
import {
  dataTable, emptyState, menuButton, confirmDialog, openDialog, toast, loading, errorBanner,
  noticeArea, toolbar, refreshButton,
} from './ui.js';
import {
  field, textInput, select, setOptions, descriptionField, tagsField, parseTags, checkTags, idFromName,
  FormErrors, formBanner, focusField, createProblems, checkboxGroup,
} from './forms.js';
import { loadInventory, loadServices, byName, childPath, lastSegment } from './data.js';
import { stripMeta } from './services.js';
import {
  loadCertificates, loadCrls, leafOf, subjectName, fmtDate, validity, isCa,
} from './certificates.js';

/** A certificate's or CRL's name from its path (falls back to the id). */
function nameIn(path, objects) {
  const o = (objects || []).find((x) => x.path === path);
  return o ? (o.display_name || o.id) : lastSegment(path);
}

/** The site-certificate cell: name, and a flag when it expired or is missing. */
function siteCertNode(e, certs) {
  if (!e.certificate_path) return h('span', { class: 'muted' }, 'None (PSK only)');
  const c = certs.find((x) => x.path === e.certificate_path);
  if (!c) return h('span', { title: e.certificate_path }, lastSegment(e.certificate_path));
  const expired = validity(c) === 'expired';
  return h('span', { class: 'name-cell', title: `${leafOf(c).subject || ''}, expires ${fmtDate(leafOf(c).not_after)}` },
    c.display_name || c.id, expired ? h('span', { class: 'badge badge-expired' }, 'Expired') : null);
}

function trustNode(paths, objects) {
  if (!paths || !paths.length) return h('span', { class: 'muted' }, 'None');
  return h('span', { class: 'trust-list' }, paths.map((p) => h('span', null, nameIn(p, objects))));
}

export function render(panel, ctx) {
  const notice = noticeArea();
  const body = h('div', { class: 'table-wrap' }, loading());
  const count = h('span', { class: 'count' });
  const add = () => openEndpointForm({ onSaved: () => ctx.refresh() });
  const addBtn = ctx.isAdmin ? h('button', { type: 'button', class: 'btn btn-primary', onclick: add }, 'Add Local Endpoint') : null;
  panel.append(toolbar(addBtn, [count, refreshButton(() => ctx.refresh())]), notice.el, body);

  Promise.all([
    loadInventory({ endpoints: true }),
    // names for the certificate columns; without them the ids are shown
    loadCertificates().catch(() => []),
    loadCrls().catch(() => []),
  ]).then(([inv, certs, crls]) => {
    if (!ctx.current()) return;
    const rows = inv.endpoints.slice().sort(byName);
    count.textContent = `${rows.length} ${rows.length === 1 ? 'local endpoint' : 'local endpoints'}`;
    clear(body).append(dataTable({
      caption: 'Local Endpoints',
      rows,
      key: (e) => e.path,
      actions: ctx.isAdmin ? (e) => menuButton({
        ariaLabel: true, name: `Actions for ${e.display_name}`, content: '\u22ee',
        items: () => [
          { label: 'Edit', onSelect: () => openEndpointForm({ endpoint: e, onSaved: () => ctx.refresh() }) },
          { label: 'Delete', onSelect: () => deleteEndpoint(e, ctx, notice) },
        ],
      }) : null,
      columns: [
        { label: 'Name', className: 'col-name', render: (e) => h('span', { class: 'obj-name', title: e.display_name }, e.display_name) },
        { label: 'VPN Service', render: (e) => e.service.display_name },
        { label: 'IP Address', className: 'mono', render: (e) => e.local_address },
        { label: 'Local ID', className: 'mono', render: (e) => e.local_id || '\u2014' },
        { label: 'Certificate', render: (e) => siteCertNode(e, certs) },
        { label: 'Trusted CAs', render: (e) => trustNode(e.trust_ca_paths, certs) },
        { label: 'CRLs', render: (e) => trustNode(e.trust_crl_paths, crls) },
      ],
      empty: emptyState('No local endpoints yet',
        inv.services.length
          ? 'A local endpoint is the address of this gateway that IKE runs on; every IPSec session needs one.'
          : 'Add a VPN service first (VPN Services tab); then add the local endpoint its sessions run on.',
        ctx.isAdmin && inv.services.length ? h('button', { type: 'button', class: 'btn btn-secondary', onclick: add }, 'Add Local Endpoint') : null),
    }));
  }).catch((err) => {
    if (!ctx.current() || err.status === 401) return;
    clear(body).append(errorBanner(`Could not load the local endpoints: ${err.message}`, () => ctx.refresh()));
  });
}

async function deleteEndpoint(e, ctx, notice) {
  const ok = await confirmDialog({
    title: 'Delete Local Endpoint',
    message: `Delete the local endpoint "${e.display_name}" (${e.local_address})? Sessions that use it must be changed or deleted first.`,
    confirmLabel: 'Delete',
    danger: true,
  });
  if (!ok) return;
  try {
    await api.del(e.path);
    toast(`Local endpoint ${e.display_name} deleted.`);
    ctx.refresh();
  } catch (err) {
    if (err.status !== 401) notice.show('error', `Could not delete ${e.display_name}: ${err.message}`);
  }
}

/**
 * Add (or Edit, with `endpoint`) Local Endpoint. `servicePath` preselects the service;
 * `lockService` keeps it (inline creation from a session form). `onSaved(endpoint)`.
 */
export async function openEndpointForm({ endpoint, servicePath, lockService = false, onSaved }) {
  let services = [];
  let certs = [];
  let crls = [];
  try {
    [services, certs, crls] = await Promise.all([loadServices(), loadCertificates(), loadCrls()]);
    services.sort(byName);
    certs.sort(byName);
    crls.sort(byName);
  } catch (err) {
    if (err.status !== 401) toast(`Could not open the form: ${err.message}`, 'error');
    return null;
  }
  const editing = !!endpoint;
  const banner = formBanner();
  const name = field({ label: 'Name', control: textInput({ maxlength: 255, value: endpoint ? endpoint.display_name : '' }), required: true });
  const svcSel = select([{ value: '', label: 'Loading\u2026', disabled: true }], '');
  const service = field({ label: 'VPN Service', control: svcSel, required: true });
  const ip = field({
    label: 'IP Address', control: textInput({ maxlength: 64, placeholder: 'e.g. 198.51.100.1', value: endpoint ? endpoint.local_address : '' }),
    required: true, hint: 'The public IPv4 or IPv6 address of this gateway that peers connect to.',
  });
  const localId = field({
    label: 'Local ID', control: textInput({ maxlength: 1024, value: endpoint ? endpoint.local_id || '' : '' }),
    hint: 'The IKE ID this gateway sends (IP, FQDN or email); blank = the IP address.',
  });
  // Certificate authentication: the site certificate (one with its private key) and the
  // CAs and CRLs peers' certificates are checked against.
  const curCert = endpoint ? endpoint.certificate_path || '' : '';
  const curCas = endpoint ? endpoint.trust_ca_paths || [] : [];
  const curCrls = endpoint ? endpoint.trust_crl_paths || [] : [];
  const certLabel = (c) => {
    const l = leafOf(c);
    const exp = validity(c) === 'expired' ? 'EXPIRED' : `expires ${fmtDate(l.not_after)}`;
    return `${c.display_name || c.id} (${subjectName(c)}, ${exp})`;
  };
  const siteCerts = certs.filter((c) => c.has_private_key || c.path === curCert);
  const certSel = select([
    { value: '', label: 'None (PSK sessions only)' },
    ...siteCerts.map((c) => ({ value: c.path, label: certLabel(c), title: leafOf(c).subject || '' })),
  ], '');
  if (curCert && !siteCerts.some((c) => c.path === curCert)) certSel.append(h('option', { value: curCert }, lastSegment(curCert)));
  certSel.value = curCert;
  const siteCert = field({
    label: 'Site Certificate', control: certSel, wide: true,
    hint: siteCerts.length
      ? 'Sessions with Certificate authentication authenticate with this certificate (only certificates imported with their private key are listed).'
      : 'No certificate with a private key yet: import one on System > Certificates. PSK sessions need none.',
  });
  const caPaths = certs.filter((c) => isCa(c) || !c.has_private_key || curCas.includes(c.path)).map((c) => c.path);
  for (const p of curCas) if (!caPaths.includes(p)) caPaths.push(p);
  const trustCas = checkboxGroup({
    legend: 'Trusted CA Certificates', values: caPaths, checked: curCas,
    labelOf: (p) => {
      const c = certs.find((x) => x.path === p);
      return c ? `${c.display_name || c.id} (${subjectName(c)})` : lastSegment(p);
    },
    hint: caPaths.length
      ? 'Peers’ certificates must chain to one of these CAs.'
      : 'No CA certificate yet: import one on System > Certificates (Import > CA Certificate).',
  });
  const crlPaths = crls.map((c) => c.path);
  for (const p of curCrls) if (!crlPaths.includes(p)) crlPaths.push(p);
  const trustCrls = checkboxGroup({
    legend: 'Trusted CRLs', values: crlPaths, checked: curCrls,
    labelOf: (p) => {
      const c = crls.find((x) => x.path === p);
      return c ? `${c.display_name || c.id} (${(c.details && c.details.issuer) || ''})` : lastSegment(p);
    },
    hint: crlPaths.length
      ? 'Peers’ certificates are checked against these revocation lists.'
      : 'No CRL yet: import one on System > Certificates (CRLs tab).',
  });
  const desc = descriptionField(endpoint ? endpoint.description || '' : '');
  const tags = tagsField(endpoint ? endpoint.tags : []);
  const errors = new FormErrors(banner, [
    [['display_name', 'id'], name],
    [['parent_path', 'service'], service],
    ['local_address', ip],
    ['local_id', localId],
    ['certificate_path', siteCert],
    ['trust_ca_paths', trustCas],
    ['trust_crl_paths', trustCrls],
    ['description', desc],
    ['tags', tags],
  ]);
  {
    const groups = new Map();
    for (const s of services) {
      const g = `${s.gateway.display_name} (${s.gateway.tier})`;
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push({ value: s.path, label: s.display_name || s.id });
    }
    const opts = [{ value: '', label: services.length ? 'Select a VPN service' : 'No VPN service yet', disabled: true }];
    for (const [g, options] of groups) opts.push({ group: g, options });
    const want = editing ? endpoint.parent_path : servicePath;
    setOptions(svcSel, opts, '');
    if (want && services.some((s) => s.path === want)) svcSel.value = want;
    else if (services.length === 1) svcSel.value = services[0].path;
    else svcSel.value = '';
    svcSel.disabled = editing || (lockService && !!want);
    if (!services.length) service.setHint('Add a VPN service on the VPN Services tab first.');
    else if (editing) service.setHint('A local endpoint stays in its VPN service.');
  }

  const formId = `${name.input.id}-form`;
  const dlg = openDialog({
    title: editing ? 'Edit Local Endpoint' : 'Add Local Endpoint',
    className: 'dialog-md',
    build(body, d) {
      const form = h('form', { class: 'form', id: formId, novalidate: true }, banner,
        h('div', { class: 'form-grid' }, name.wrap, service.wrap, ip.wrap, localId.wrap,
          siteCert.wrap, trustCas.wrap, trustCrls.wrap, desc.wrap, tags.wrap));
      form.addEventListener('submit', (e) => { e.preventDefault(); save(); });
      body.append(form);
      d.footer.append(d.cancelButton(), h('button', { type: 'submit', class: 'btn btn-primary', form: formId }, 'Save'));
    },
    initialFocus: () => name.input,
  });

  async function save() {
    const problems = [];
    const display = name.input.value.trim();
    if (!display) problems.push({ field: 'display_name', message: 'is required: enter a name for the local endpoint' });
    if (!svcSel.value) problems.push({ field: 'parent_path', message: 'is required: select the VPN service of this local endpoint' });
    if (!ip.input.value.trim()) problems.push({ field: 'local_address', message: 'is required: enter this gateway\u2019s public IP address' });
    const tp = checkTags(tags.input.value);
    if (tp) problems.push({ field: 'tags', message: tp });
    if (problems.length) {
      focusField(errors.show(problems));
      return;
    }
    const body = editing ? stripMeta(endpoint) : { resource_type: 'IPSecVpnLocalEndpoint' };
    body.resource_type = 'IPSecVpnLocalEndpoint';
    body.display_name = display;
    body.local_address = ip.input.value.trim();
    if (localId.input.value.trim()) body.local_id = localId.input.value.trim(); else delete body.local_id;
    if (certSel.value) body.certificate_path = certSel.value; else delete body.certificate_path;
    const cas = trustCas.get();
    if (cas.length) body.trust_ca_paths = cas; else delete body.trust_ca_paths;
    const crlList = trustCrls.get();
    if (crlList.length) body.trust_crl_paths = crlList; else delete body.trust_crl_paths;
    if (desc.input.value) body.description = desc.input.value; else delete body.description;
    const t = parseTags(tags.input.value);
    if (t.length) body.tags = t; else delete body.tags;
    const id = idFromName(display);
    const path = editing ? endpoint.path : childPath(svcSel.value, 'local-endpoints', id);
    dlg.setBusy(true);
    try {
      const saved = await api.put(path, body);
      dlg.close();
      toast(`Local endpoint ${display} saved.`);
      if (onSaved) await onSaved(saved || { path });
    } catch (err) {
      dlg.setBusy(false);
      if (err.status === 401) {
        errors.show([{ field: '', message: 'Your session ended before the local endpoint was saved; log in again and press Save.' }]);
        return;
      }
      const probs = createProblems(err, !editing, 'A local endpoint', id, 'in this VPN service');
      focusField(errors.show(probs, err.status === 412 ? 'Someone else changed this local endpoint since you opened it. Cancel and open it again to see their change.' : undefined));
    }
  }
  return dlg;
}
