// VPN Services tab: the IPsec VPN services of every gateway, Add/Edit IPSec Service (with
// an inline Add Gateway), and NSX's "Continue configuring this IPSec service?" shortcut
// into Add IPSec Session > Route Based.

import * as api from './api.js';
import { h, clear } from './dom.js';
import {
  dataTable, emptyState, adminStatus, menuButton, confirmDialog, askDialog, openDialog,
  toast, loading, errorBanner, noticeArea, toolbar, refreshButton,
} from './ui.js';
import {
  field, textInput, select, setOptions, switchInput, tagsField, parseTags, checkTags,
  idFromName, FormErrors, formBanner, focusField, createProblems,
} from './forms.js';
import { loadInventory, loadGateways, byName, childPath } from './data.js';
import { openSessionForm } from './session-form.js';

const LOG_LEVELS = [['DEBUG', 'Debug'], ['INFO', 'Info'], ['WARN', 'Warn'], ['ERROR', 'Error'], ['EMERGENCY', 'Emergency']];

export function render(panel, ctx) {
  const notice = noticeArea();
  const body = h('div', { class: 'table-wrap' }, loading());
  const count = h('span', { class: 'count' });
  const addBtn = ctx.isAdmin
    ? h('button', { type: 'button', class: 'btn btn-primary', onclick: () => openServiceForm({ ctx }) }, 'Add VPN Service')
    : null;
  panel.append(toolbar(addBtn, [count, refreshButton(() => ctx.refresh())]), notice.el, body);

  loadInventory({ sessions: true }).then((inv) => {
    if (!ctx.current()) return;
    const rows = inv.services.slice().sort(byName);
    count.textContent = `${rows.length} ${rows.length === 1 ? 'service' : 'services'}`;
    const sessionsOf = (s) => inv.sessions.filter((x) => x.parent_path === s.path).length;
    clear(body).append(dataTable({
      caption: 'VPN Services',
      rows,
      key: (s) => s.path,
      actions: ctx.isAdmin ? (s) => menuButton({
        ariaLabel: true, name: `Actions for ${s.display_name}`, content: '\u22ee',
        items: () => [
          { label: 'Edit', onSelect: () => openServiceForm({ ctx, service: s }) },
          { label: 'Delete', onSelect: () => deleteService(s, ctx, notice) },
        ],
      }) : null,
      columns: [
        { label: 'Name', className: 'col-name', render: (s) => h('span', { class: 'obj-name', title: s.display_name }, s.display_name) },
        { label: 'Gateway', render: (s) => h('span', null, s.gateway.display_name, h('span', { class: 'muted' }, ` (${s.gateway.tier})`)) },
        { label: 'Admin Status', render: (s) => adminStatus(s.enabled !== false) },
        { label: 'IKE Log Level', render: (s) => (LOG_LEVELS.find(([v]) => v === s.ike_log_level) || [0, s.ike_log_level || 'Info'])[1] },
        {
          label: 'Sessions',
          render: (s) => {
            const n = sessionsOf(s);
            return h('a', { href: `#/vpn/sessions?service=${encodeURIComponent(s.path)}`, class: 'count-link' }, `${n} ${n === 1 ? 'session' : 'sessions'}`);
          },
        },
      ],
      empty: emptyState('No VPN services yet',
        inv.gateways.length
          ? 'Add an IPsec VPN service to a gateway; then add its local endpoint and its route-based IPSec sessions.'
          : 'Add an IPsec VPN service; the form can create its tier-0 gateway too. Then add a local endpoint and route-based IPSec sessions.',
        ctx.isAdmin ? h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => openServiceForm({ ctx }) }, 'Add VPN Service') : null),
    }));
  }).catch((err) => {
    if (!ctx.current() || err.status === 401) return;
    clear(body).append(errorBanner(`Could not load the VPN services: ${err.message}`, () => ctx.refresh()));
  });
}

async function deleteService(s, ctx, notice) {
  const ok = await confirmDialog({
    title: 'Delete IPSec Service',
    message: `Delete the VPN service "${s.display_name}" of ${s.gateway.display_name}? Its local endpoints and sessions must be deleted first.`,
    confirmLabel: 'Delete',
    danger: true,
  });
  if (!ok) return;
  try {
    await api.del(s.path);
    toast(`VPN service ${s.display_name} deleted.`);
    ctx.refresh();
  } catch (err) {
    if (err.status !== 401) notice.show('error', `Could not delete ${s.display_name}: ${err.message}`);
  }
}

function gatewayOptions(gateways) {
  if (!gateways.length) return [{ value: '', label: 'No gateway yet: add one', disabled: true }];
  const t0 = gateways.filter((g) => g.tier === 'Tier-0').sort(byName);
  const t1 = gateways.filter((g) => g.tier === 'Tier-1').sort(byName);
  const opts = [{ value: '', label: 'Select a gateway', disabled: true }];
  if (t0.length) opts.push({ group: 'Tier-0 Gateways', options: t0.map((g) => ({ value: g.path, label: g.display_name })) });
  if (t1.length) opts.push({ group: 'Tier-1 Gateways', options: t1.map((g) => ({ value: g.path, label: g.display_name })) });
  return opts;
}

/** Add (or Edit, with `service`) IPSec Service. */
export async function openServiceForm({ ctx, service, gatewayPath }) {
  const editing = !!service;
  let gateways = [];
  try {
    gateways = await loadGateways();
  } catch (err) {
    if (err.status !== 401) toast(`Could not open the form: ${err.message}`, 'error');
    return null;
  }
  const banner = formBanner();
  const name = field({ label: 'Name', control: textInput({ value: service ? service.display_name : '', maxlength: 255 }), required: true });
  const gwSelect = select([{ value: '', label: 'Loading gateways\u2026', disabled: true }], '');
  const addGw = editing ? null : h('button', { type: 'button', class: 'btn btn-secondary btn-sm' }, 'Add Gateway');
  const gwControl = h('div', { class: 'control-row' }, gwSelect, addGw);
  const gw = field({
    label: 'Tier-0/Tier-1 Gateway', control: gwControl, input: gwSelect, required: true,
    hint: editing ? 'A service stays on its gateway.' : 'A gateway has at most one IPsec VPN service.',
  });
  gwSelect.disabled = editing;
  const enabledSw = switchInput(service ? service.enabled !== false : true);
  const enabled = field({ label: 'Admin Status', control: enabledSw, input: enabledSw.input });
  const level = field({ label: 'IKE Log Level', control: select(LOG_LEVELS, service ? service.ike_log_level || 'INFO' : 'INFO') });
  const tags = tagsField(service ? service.tags : []);
  const errors = new FormErrors(banner, [
    [['display_name', 'id'], name],
    [['parent_path', 'gateway'], gw],
    ['enabled', enabled],
    ['ike_log_level', level],
    ['tags', tags],
  ]);
  function fillGws(selectPath) {
    const keep = selectPath || gwSelect.value || (service && service.gateway && service.gateway.path) || gatewayPath || '';
    setOptions(gwSelect, gatewayOptions(gateways), '');
    if (keep && gateways.some((g) => g.path === keep)) gwSelect.value = keep;
    else if (gateways.length === 1) gwSelect.value = gateways[0].path;
    else gwSelect.value = '';
    gw.setHint(gateways.length ? (editing ? 'A service stays on its gateway.' : 'A gateway has at most one IPsec VPN service.')
      : 'There is no gateway yet: Add Gateway creates a tier-0 gateway for this service.');
  }

  fillGws();
  const dlg = openDialog({
    title: editing ? 'Edit IPSec Service' : 'Add IPSec Service',
    className: 'dialog-md',
    build(body, d) {
      const form = h('form', { class: 'form', novalidate: true, id: `${d.titleId}-form` },
        banner, h('div', { class: 'form-grid' }, name.wrap, gw.wrap, enabled.wrap, level.wrap, tags.wrap));
      form.addEventListener('submit', (e) => { e.preventDefault(); save(); });
      body.append(form);
      d.footer.append(d.cancelButton(), h('button', { type: 'submit', class: 'btn btn-primary', form: form.id }, 'Save'));
    },
    initialFocus: () => name.input,
  });

  if (addGw) {
    addGw.addEventListener('click', () => openGatewayForm({
      onSaved: async (g) => {
        try {
          gateways = await loadGateways();
        } catch {
          gateways.push({ ...g, tier: 'Tier-0' });
        }
        fillGws(g.path);
        gwSelect.focus();
      },
    }));
  }

  async function save() {
    const problems = [];
    const display = name.input.value.trim();
    if (!display) problems.push({ field: 'display_name', message: 'is required: enter a name for the service' });
    if (!gwSelect.value) problems.push({ field: 'parent_path', message: gateways.length ? 'is required: select the gateway of this service' : 'is required: add a gateway first (Add Gateway)' });
    const tagProblem = checkTags(tags.input.value);
    if (tagProblem) problems.push({ field: 'tags', message: tagProblem });
    if (problems.length) {
      focusField(errors.show(problems));
      return;
    }
    const body = editing ? stripMeta(service) : { resource_type: 'IPSecVpnService' };
    body.display_name = display;
    body.enabled = enabledSw.input.checked;
    body.ike_log_level = level.input.value;
    const t = parseTags(tags.input.value);
    if (t.length) body.tags = t; else delete body.tags;
    const path = editing ? service.path : childPath(gwSelect.value, 'ipsec-vpn-services', idFromName(display));
    dlg.setBusy(true);
    try {
      const saved = await api.put(path, body);
      errors.clear();
      dlg.close();
      toast(`VPN service ${display} saved.`);
      ctx.reload();
      if (!editing) {
        const yes = await askDialog({
          title: 'Continue configuring this IPSec service?',
          message: `The VPN service ${display} is saved. Add a route-based IPSec session to it now?`,
        });
        if (yes) {
          ctx.navigate('#/vpn/sessions');
          openSessionForm({ ctx, servicePath: (saved && saved.path) || path.replace(/%([0-9A-F]{2})/gi, (m, x) => String.fromCharCode(parseInt(x, 16))) });
        }
      }
    } catch (err) {
      dlg.setBusy(false);
      if (err.status === 401) {
        errors.show([{ field: '', message: 'Your session ended before the service was saved; log in again and press Save.' }]);
        return;
      }
      const probs = createProblems(err, !editing, 'A VPN service', idFromName(display), 'on this gateway');
      focusField(errors.show(probs, err.status === 412 ? 'Someone else changed this service since you opened it. Cancel and open it again to see their change.' : undefined));
    }
  }
  return dlg;
}

/** Strip the read-only fields of a GET body before sending it back. */
export function stripMeta(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) {
    if (['gateway', 'service', 'tier'].includes(k)) continue;
    if (k.startsWith('_') && k !== '_revision') continue;
    if (['path', 'parent_path', 'relative_path', 'unique_id', 'realization_id', 'marked_for_delete', 'overridden'].includes(k)) continue;
    out[k] = v;
  }
  return out;
}

/** Add Gateway: a tier-0 gateway with the given name (PATCH, as NSX's UI does). */
export function openGatewayForm({ onSaved }) {
  const banner = formBanner();
  const name = field({ label: 'Name', control: textInput({ maxlength: 255 }), required: true, hint: 'Creates a tier-0 gateway (active-standby) to hold the VPN service.' });
  const errors = new FormErrors(banner, [[['display_name', 'id'], name]]);
  const dlg = openDialog({
    title: 'Add Gateway',
    className: 'dialog-sm',
    build(body, d) {
      const form = h('form', { class: 'form', novalidate: true, id: `${d.titleId}-form` }, banner, h('div', { class: 'form-grid form-grid-1' }, name.wrap));
      form.addEventListener('submit', (e) => { e.preventDefault(); save(); });
      body.append(form);
      d.footer.append(d.cancelButton(), h('button', { type: 'submit', class: 'btn btn-primary', form: form.id }, 'Save'));
    },
    initialFocus: () => name.input,
  });
  async function save() {
    const display = name.input.value.trim();
    if (!display) {
      focusField(errors.show([{ field: 'display_name', message: 'is required: enter a name for the gateway' }]));
      return;
    }
    const path = `/infra/tier-0s/${api.seg(idFromName(display))}`;
    dlg.setBusy(true);
    try {
      const existing = (await loadGateways()).some((g) => g.path === `/infra/tier-0s/${idFromName(display)}`);
      if (existing) {
        dlg.setBusy(false);
        focusField(errors.show([{ field: 'display_name', message: `a gateway with the ID ${idFromName(display)} already exists; choose another name` }]));
        return;
      }
      await api.patch(path, { display_name: display });
      const g = await api.get(path);
      dlg.close();
      toast(`Gateway ${display} added.`);
      if (onSaved) await onSaved(g);
    } catch (err) {
      dlg.setBusy(false);
      focusField(errors.show(err.problems));
    }
  }
  return dlg;
}
