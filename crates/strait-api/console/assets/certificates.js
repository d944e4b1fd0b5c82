// System > Certificates: imported certificates (site certificates with their private key,
// CA certificates) and CRLs; import (paste or file) and delete. Local endpoints refer to
// them (site certificate, trusted CAs and CRLs), which is what "Used By" shows. A private
// key or passphrase goes to the API once and is never shown again (the API never returns it).

import * as api from './api.js';
import { h, clear, uid } from './dom.js';
import {
  dataTable, emptyState, menuButton, confirmDialog, openDialog, toast, loading, errorBanner,
  noticeArea, toolbar, refreshButton, detailList,
} from './ui.js';
import {
  field, textInput, descriptionField, idFromName, FormErrors, formBanner, focusField, createProblems,
} from './forms.js';
import { list, seg } from './api.js';
import { loadInventory, byName, lastSegment } from './data.js';

export const CERTS = '/infra/certificates';
export const CRLS = '/infra/crls';

/** Every imported certificate. */
export function loadCertificates() {
  return list(CERTS);
}

/** Every imported CRL. */
export function loadCrls() {
  return list(CRLS);
}

/** The leaf (first) certificate's parsed details, or {}. */
export function leafOf(cert) {
  return (cert && Array.isArray(cert.details) && cert.details[0]) || {};
}

/** Epoch ms as `YYYY-MM-DD` (UTC, as the API's dates are). */
export function fmtDate(ms) {
  if (typeof ms !== 'number') return '';
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().slice(0, 10);
}

/** Epoch ms as `YYYY-MM-DD HH:MM:SS UTC`. */
export function fmtDateTime(ms) {
  if (typeof ms !== 'number') return '';
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? '' : `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** Whether the leaf has expired (or is not valid yet: 'not-yet'). */
export function validity(cert, now = Date.now()) {
  const l = leafOf(cert);
  if (typeof l.not_after === 'number' && l.not_after < now) return 'expired';
  if (typeof l.not_before === 'number' && l.not_before > now) return 'not-yet';
  return 'valid';
}

/** The subject's CN, else the whole subject. */
export function subjectName(cert) {
  const l = leafOf(cert);
  return l.subject_cn || l.subject || '';
}

/** A CA certificate: its leaf has the CA basic constraint. */
export function isCa(cert) {
  const l = leafOf(cert);
  return !!l.is_ca;
}

/** "RSA 2048" from the leaf. */
export function keyText(cert) {
  const l = leafOf(cert);
  const algo = l.public_key_algo || cert.key_algo || '';
  return l.public_key_length ? `${algo} ${l.public_key_length}` : algo;
}

/** "Expires 2045-01-01" or the expired flag, as a node. */
export function expiryNode(cert) {
  const l = leafOf(cert);
  const v = validity(cert);
  return h('span', { class: 'expiry', title: `Valid from ${fmtDateTime(l.not_before)} to ${fmtDateTime(l.not_after)}` },
    fmtDate(l.not_after),
    v === 'expired' ? h('span', { class: 'badge badge-expired' }, 'Expired') : null,
    v === 'not-yet' ? h('span', { class: 'badge badge-warn' }, 'Not yet valid') : null);
}

/**
 * What refers to a certificate or CRL: the API's `used_by` if it has one, else the local
 * endpoints naming it. [{name, role}].
 */
export function usedBy(obj, endpoints) {
  // The API's used_by says which endpoints refer to it; the endpoints themselves say in what
  // role (site certificate, trusted CA, CRL), which is what an operator wants to read.
  const out = [];
  for (const e of endpoints || []) {
    const name = `${e.display_name || e.id}`;
    if (e.certificate_path === obj.path) out.push({ name, role: 'site certificate' });
    if ((e.trust_ca_paths || []).includes(obj.path)) out.push({ name, role: 'trusted CA' });
    if ((e.trust_crl_paths || []).includes(obj.path)) out.push({ name, role: 'CRL' });
  }
  if (!out.length && Array.isArray(obj.used_by) && obj.used_by.length) {
    return obj.used_by.map((u) => ({ name: u.target_display_name || lastSegment(u.target_id || u.path || ''), role: '' }));
  }
  return out;
}

function usedByNode(refs) {
  if (!refs.length) return h('span', { class: 'muted' }, 'Not used');
  return h('span', { class: 'used-by' }, refs.map((r, i) => [
    i ? ', ' : null, h('span', { class: 'used-by-item' }, r.name, r.role ? h('span', { class: 'muted' }, ` (${r.role})`) : null),
  ]));
}

function usedByText(refs) {
  return refs.map((r) => (r.role ? `${r.name} (${r.role})` : r.name)).join(', ');
}

// ---------------------------------------------------------------------------------------
// The page

const expanded = new Set();

export function render(panel, ctx) {
  const crls = ctx.view === 'crls';
  const notice = noticeArea();
  const body = h('div', { class: 'table-wrap' }, loading());
  const count = h('span', { class: 'count' });
  const onSaved = () => ctx.refresh();
  let addBtn = null;
  if (ctx.isAdmin && crls) {
    addBtn = h('button', { type: 'button', class: 'btn btn-primary', onclick: () => openImportForm({ kind: 'crl', onSaved }) }, 'Import CRL');
  } else if (ctx.isAdmin) {
    addBtn = menuButton({
      name: 'Import', className: 'btn btn-primary btn-menu',
      items: () => [
        { label: 'Certificate', onSelect: () => openImportForm({ kind: 'certificate', onSaved }) },
        { label: 'CA Certificate', onSelect: () => openImportForm({ kind: 'ca', onSaved }) },
      ],
    });
  }
  panel.append(toolbar(addBtn, [count, refreshButton(() => ctx.refresh())]), notice.el, body);

  Promise.all([crls ? loadCrls() : loadCertificates(), loadInventory({ endpoints: true })]).then(([objects, inv]) => {
    if (!ctx.current()) return;
    const rows = objects.slice().sort(byName);
    const noun = crls ? 'CRL' : 'certificate';
    count.textContent = `${rows.length} ${noun}${rows.length === 1 ? '' : 's'}`;
    const actions = ctx.isAdmin ? (o) => menuButton({
      ariaLabel: true, name: `Actions for ${o.display_name || o.id}`, content: '\u22ee',
      items: () => [{ label: 'Delete', onSelect: () => deleteObject(o, crls, usedBy(o, inv.endpoints), ctx, notice) }],
    }) : null;
    const name = (o) => h('span', { class: 'name-cell' }, h('span', { class: 'obj-name', title: o.display_name || o.id }, o.display_name || o.id),
      !crls && isCa(o) ? h('span', { class: 'badge badge-system', title: 'A CA certificate' }, 'CA') : null);
    if (crls) {
      clear(body).append(dataTable({
        caption: 'CRLs',
        rows,
        key: (o) => o.path,
        actions,
        columns: [
          { label: 'Name', className: 'col-name', render: name },
          { label: 'Issuer', className: 'col-dn', render: (o) => (o.details && o.details.issuer) || '' },
          { label: 'This Update', render: (o) => fmtDate(o.details && o.details.this_update) },
          { label: 'Next Update', render: nextUpdateNode },
          { label: 'Revoked', className: 'num', render: (o) => String((o.details && o.details.revoked_count) ?? '') },
          { label: 'Used By', render: (o) => usedByNode(usedBy(o, inv.endpoints)) },
        ],
        empty: emptyState('No CRLs yet',
          'Import the certificate revocation lists of the CAs that sign peers\u2019 certificates; local endpoints check peers against them.',
          ctx.isAdmin ? h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => openImportForm({ kind: 'crl', onSaved }) }, 'Import CRL') : null),
      }));
      return;
    }
    clear(body).append(dataTable({
      caption: 'Certificates',
      rows,
      key: (o) => o.path,
      actions,
      expand: { label: (o) => `Expand ${o.display_name || o.id}`, render: (o) => certDetails(o, inv.endpoints), expanded },
      columns: [
        { label: 'Name', className: 'col-name', render: name },
        { label: 'Subject', className: 'col-dn', render: (o) => h('span', { title: leafOf(o).subject || '' }, leafOf(o).subject || '') },
        { label: 'Issuer', className: 'col-dn', render: (o) => leafOf(o).issuer || '' },
        { label: 'Expires', render: expiryNode },
        { label: 'Key', render: keyText },
        { label: 'Private Key', render: (o) => (o.has_private_key ? 'Yes' : h('span', { class: 'muted' }, 'No')) },
        { label: 'Used By', render: (o) => usedByNode(usedBy(o, inv.endpoints)) },
      ],
      empty: emptyState('No certificates yet',
        'Import the site certificate of this gateway (with its private key) and the CA certificates that sign peers\u2019 certificates; local endpoints use them for certificate authentication.',
        ctx.isAdmin ? h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => openImportForm({ kind: 'certificate', onSaved }) }, 'Import Certificate') : null),
    }));
  }).catch((err) => {
    if (!ctx.current() || err.status === 401) return;
    clear(body).append(errorBanner(`Could not load the ${crls ? 'CRLs' : 'certificates'}: ${err.message}`, () => ctx.refresh()));
  });
}

function nextUpdateNode(o) {
  const next = o.details && o.details.next_update;
  if (typeof next !== 'number') return h('span', { class: 'muted' }, 'Not set');
  return h('span', { class: 'expiry' }, fmtDate(next),
    next < Date.now() ? h('span', { class: 'badge badge-expired', title: 'The CA should have issued a newer CRL by now' }, 'Overdue') : null);
}

function certDetails(c, endpoints) {
  const chain = Array.isArray(c.details) ? c.details : [];
  const section = (title, content) => h('div', { class: 'details-section' }, h('h3', null, title), content);
  const one = (d) => detailList([
    ['Subject', d.subject],
    ['Issuer', d.issuer],
    ['Serial Number', h('code', null, d.serial_number || '')],
    ['Valid From', fmtDateTime(d.not_before)],
    ['Valid Until', fmtDateTime(d.not_after)],
    ['Signature Algorithm', d.signature_algorithm],
    ['Key', `${d.public_key_algo || ''} ${d.public_key_length || ''}`.trim()],
    ['CA', d.is_ca ? 'Yes' : 'No'],
    ['Subject Alternative Names', [...(d.san_dns || []), ...(d.san_ip || []), ...(d.san_email || [])].join(', ')],
    ['SHA-256 Fingerprint', h('code', { class: 'fingerprint' }, d.sha256_fingerprint || '')],
  ]);
  return h('div', { class: 'details' },
    section('Certificate', h('div', null,
      detailList([
        ['Name', c.display_name || c.id],
        ['ID', c.id],
        ['Path', h('code', null, c.path)],
        ['Private Key', c.has_private_key ? 'Imported (never displayed)' : 'None'],
        ['Used By', usedByText(usedBy(c, endpoints))],
        ['Description', c.description || ''],
      ]),
      chain[0] ? one(chain[0]) : null)),
    chain.length > 1
      ? section(`Chain (${chain.length - 1} more)`, h('div', null, chain.slice(1).map(one)))
      : null);
}

async function deleteObject(o, crl, refs, ctx, notice) {
  const what = crl ? 'CRL' : 'Certificate';
  const display = o.display_name || o.id;
  const ok = await confirmDialog({
    title: `Delete ${what}`,
    message: `Delete the ${crl ? 'CRL' : 'certificate'} "${display}"?${refs.length ? ` It is used by ${usedByText(refs)}; change that local endpoint first.` : ''}`,
    confirmLabel: 'Delete',
    danger: true,
  });
  if (!ok) return;
  try {
    await api.del(o.path);
    notice.clear();
    toast(`${what} ${display} deleted.`);
    ctx.refresh();
  } catch (err) {
    if (err.status !== 401) notice.show('error', `Could not delete ${display}: ${err.message}`);
  }
}

// ---------------------------------------------------------------------------------------
// Import

const KINDS = {
  certificate: { title: 'Import Certificate', noun: 'certificate', base: CERTS, label: 'Certificate Contents', begin: 'CERTIFICATE' },
  ca: { title: 'Import CA Certificate', noun: 'CA certificate', base: CERTS, label: 'Certificate Contents', begin: 'CERTIFICATE' },
  crl: { title: 'Import CRL', noun: 'CRL', base: CRLS, label: 'CRL Contents', begin: 'X509 CRL' },
};

const KEY_BLOCK = /-----BEGIN ((?:ENCRYPTED |RSA |EC )?PRIVATE KEY)-----[\s\S]*?-----END \1-----\s*/g;

/** A textarea for PEM text with a file input that loads a file into it. */
function pemControl({ placeholder, fileLabel, secret = false }) {
  const ta = h('textarea', {
    class: `input textarea pem${secret ? ' secret' : ''}`, rows: secret ? '4' : '6', spellcheck: 'false',
    autocomplete: 'off', placeholder,
  });
  const file = h('input', { type: 'file', class: 'file-input', 'aria-label': fileLabel, accept: '.pem,.crt,.cer,.key,.crl,.txt' });
  const status = h('span', { class: 'file-status muted' });
  file.addEventListener('change', async () => {
    const f = file.files && file.files[0];
    if (!f) return;
    try {
      ta.value = await f.text();
      status.textContent = secret ? `Loaded ${f.name}.` : `Loaded ${f.name} (${ta.value.length} characters).`;
      ta.dispatchEvent(new Event('input'));
    } catch (e) {
      status.textContent = `Could not read ${f.name}: ${e.message}`;
    }
    file.value = '';
  });
  const wrap = h('div', { class: 'pem-control' }, ta, h('div', { class: 'file-row' }, file, status));
  return { ta, file, status, wrap };
}

/**
 * Import a certificate (`kind` 'certificate', with an optional private key and passphrase),
 * a CA certificate ('ca') or a CRL ('crl'). `onSaved(saved)`.
 */
export function openImportForm({ kind, onSaved }) {
  const k = KINDS[kind];
  const banner = formBanner();
  const name = field({ label: 'Name', control: textInput({ maxlength: 255 }), required: true });
  const pem = pemControl({
    placeholder: `-----BEGIN ${k.begin}-----\n...\n-----END ${k.begin}-----`,
    fileLabel: `Load ${k.label} from a file`,
  });
  const contents = field({
    label: k.label, control: pem.wrap, input: pem.ta, required: true, wide: true,
    hint: kind === 'crl'
      ? 'Paste the CRL (one -----BEGIN X509 CRL----- block) or load its file.'
      : kind === 'ca'
        ? 'Paste the CA certificate (PEM) or load its file. Local endpoints trust the CAs you choose for peers\u2019 certificates.'
        : 'Paste the certificate followed by its chain (PEM blocks) or load the file.',
  });
  let key = null;
  let keyField = null;
  let passField = null;
  if (kind === 'certificate') {
    key = pemControl({ placeholder: '-----BEGIN PRIVATE KEY-----', fileLabel: 'Load Private Key from a file', secret: true });
    keyField = field({
      label: 'Private Key', control: key.wrap, input: key.ta, wide: true,
      hint: 'Optional: the key of a site certificate (PKCS#8, PKCS#1 or SEC1 PEM). It is stored encrypted and never shown again.',
    });
    passField = field({
      label: 'Passphrase', control: textInput({ type: 'password', maxlength: 1024, autocomplete: 'new-password' }),
      hint: 'Only for an encrypted private key.',
    });
  }
  const desc = descriptionField('');
  const errors = new FormErrors(banner, [
    [['display_name', 'id'], name],
    ['pem_encoded', contents],
    ...(keyField ? [['private_key', keyField], ['passphrase', passField]] : []),
    ['description', desc],
  ]);

  const forget = () => {
    if (key) key.ta.value = '';
    if (passField) passField.input.value = '';
  };
  const formId = uid('import-form');
  const dlg = openDialog({
    title: k.title,
    className: 'dialog-md',
    onClose: forget,
    build(body, d) {
      const form = h('form', { class: 'form', id: formId, novalidate: true }, banner,
        h('div', { class: 'form-grid' }, name.wrap, contents.wrap,
          keyField ? keyField.wrap : null, passField ? passField.wrap : null, desc.wrap));
      form.addEventListener('submit', (e) => { e.preventDefault(); save(); });
      body.append(form);
      d.footer.append(d.cancelButton(), h('button', { type: 'submit', class: 'btn btn-primary', form: formId }, 'Import'));
    },
    initialFocus: () => name.input,
  });

  async function save() {
    const problems = [];
    const display = name.input.value.trim();
    let pemText = pem.ta.value.trim();
    let keyPem = key ? key.ta.value.trim() : '';
    if (!display) problems.push({ field: 'display_name', message: `is required: enter a name for the ${k.noun}` });
    // A file holding both the certificate and its key: the key goes where keys go.
    const keys = pemText.match(KEY_BLOCK);
    if (keys && kind === 'certificate' && !keyPem) {
      keyPem = keys.join('\n').trim();
      pemText = pemText.replace(KEY_BLOCK, '').trim();
    } else if (keys) {
      problems.push({
        field: 'pem_encoded',
        message: kind === 'certificate'
          ? 'contains a private key as well: paste the key into Private Key only'
          : `contains a private key: a ${k.noun} is imported without any key; remove the PRIVATE KEY block`,
      });
    }
    if (!pemText) problems.push({ field: 'pem_encoded', message: `is required: paste the ${k.noun} as PEM or load its file` });
    else if (!pemText.includes(`-----BEGIN ${k.begin}-----`)) {
      problems.push({ field: 'pem_encoded', message: `is not a PEM ${k.noun}: it needs a -----BEGIN ${k.begin}----- block` });
    }
    if (problems.length) {
      focusField(errors.show(problems));
      return;
    }
    const body = { resource_type: kind === 'crl' ? 'TlsCrl' : 'TlsCertificate', display_name: display, pem_encoded: pemText };
    if (kind === 'crl') body.crl_type = 'X509';
    if (keyPem) body.private_key = keyPem;
    if (passField && passField.input.value) body.passphrase = passField.input.value;
    if (desc.input.value) body.description = desc.input.value;
    const id = idFromName(display);
    dlg.setBusy(true);
    try {
      const saved = await api.put(`${k.base}/${seg(id)}`, body);
      forget();
      dlg.close();
      if (kind === 'ca' && saved && !isCa(saved)) {
        toast(`${display} imported, but it is not a CA certificate (no CA basic constraint): peers\u2019 certificates cannot chain to it.`, 'error');
      } else {
        toast(`${kind === 'crl' ? 'CRL' : 'Certificate'} ${display} imported.`);
      }
      if (onSaved) await onSaved(saved || { path: `${k.base}/${seg(id)}` });
    } catch (err) {
      dlg.setBusy(false);
      if (err.status === 401) {
        errors.show([{ field: '', message: `Your session ended before the ${k.noun} was imported; log in again and press Import.` }]);
        return;
      }
      const probs = createProblems(err, true, kind === 'crl' ? 'A CRL' : 'A certificate', id, '');
      focusField(errors.show(probs));
    }
  }
  return dlg;
}
