// The session form's "Site Certificate" line in Certificate mode: NSX authenticates a
// certificate session with the site certificate of its local endpoint, so the form shows
// which one that is (subject, issuer, expiry), or says inline what is missing on the
// local endpoint.

import { h, uid, clear } from './dom.js';
import { leafOf, fmtDate, validity } from './certificates.js';

/**
 * Returns {wrap, update({mode, endpoint, certs}), problem()}. `onEditEndpoint(endpoint)`
 * opens the local endpoint's form (the place to fix what is missing).
 */
export function siteCertInfo({ onEditEndpoint }) {
  const labelId = uid('site-cert');
  const box = h('div', { class: 'cert-info', role: 'status', 'aria-labelledby': labelId, 'aria-live': 'polite' });
  const wrap = h('div', { class: 'field field-wide', hidden: true },
    h('div', { class: 'field-label' }, h('span', { id: labelId }, 'Site Certificate')), box);
  let current = null; // the problem text, or null

  function errorLine(text) {
    return h('div', { class: 'field-error-line' },
      h('span', { class: 'err-icon', 'aria-hidden': 'true' }, '!'), h('span', null, text));
  }

  function editButton(endpoint) {
    return h('button', { type: 'button', class: 'btn btn-link btn-sm', onclick: () => onEditEndpoint(endpoint) },
      `Edit local endpoint ${endpoint.display_name || endpoint.id}`);
  }

  function update({ mode, endpoint, certs }) {
    clear(box);
    box.classList.remove('cert-info-error');
    current = null;
    wrap.hidden = mode !== 'CERTIFICATE';
    if (wrap.hidden) return;
    if (!endpoint) {
      box.append(h('span', { class: 'muted' }, 'Select a local endpoint: its site certificate is used for authentication.'));
      return;
    }
    const epName = endpoint.display_name || endpoint.id;
    const problems = [];
    if (!endpoint.certificate_path) {
      problems.push(`The local endpoint ${epName} has no site certificate: choose one on the local endpoint.`);
    }
    const cert = endpoint.certificate_path ? (certs || []).find((c) => c.path === endpoint.certificate_path) : null;
    if (cert) {
      const l = leafOf(cert);
      const v = validity(cert);
      box.append(
        h('div', { class: 'cert-name' }, h('strong', null, cert.display_name || cert.id),
          ` (used by local endpoint ${epName})`),
        h('div', { class: 'cert-subject' }, `Subject: ${l.subject || ''}`),
        h('div', { class: 'cert-subject' }, `Issuer: ${l.issuer || ''}`),
        h('div', { class: 'expiry' }, `Expires ${fmtDate(l.not_after)}`,
          v === 'expired' ? h('span', { class: 'badge badge-expired' }, 'Expired') : null));
      if (v === 'expired') problems.push(`The site certificate ${cert.display_name || cert.id} expired on ${fmtDate(l.not_after)}: import a new one and choose it on the local endpoint.`);
    } else if (endpoint.certificate_path) {
      box.append(h('div', null, endpoint.certificate_path));
    }
    if (endpoint.certificate_path && !(endpoint.trust_ca_paths || []).length) {
      problems.push(`The local endpoint ${epName} trusts no CA certificate: choose the CAs that sign the peer\u2019s certificate on the local endpoint.`);
    }
    if (problems.length) {
      const errs = h('div', { class: 'field-error' }, problems.map(errorLine));
      if (!cert) box.classList.add('cert-info-error');
      box.append(errs, onEditEndpoint ? h('div', null, editButton(endpoint)) : null);
      current = problems.join(' ');
    }
  }

  return { wrap, update, problem: () => current };
}
