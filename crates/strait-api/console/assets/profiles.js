// Profiles tab (IKE, IPSec, DPD) and the profile forms, also opened inline from the session
// form. System-owned profiles (NSX defaults, compliance suites) are read-only.

import * as api from './api.js';
import { h, clear } from './dom.js';
import {
  dataTable, emptyState, menuButton, confirmDialog, openDialog, toast, loading, errorBanner,
  noticeArea, toolbar, refreshButton, tabList, systemBadge, adminStatus,
} from './ui.js';
import {
  field, textInput, select, switchInput, descriptionField, checkboxGroup, idFromName, intOrText,
  FormErrors, formBanner, focusField, createProblems,
} from './forms.js';
import { PROFILE_KINDS, loadProfiles, byName } from './data.js';
import { stripMeta } from './services.js';

const IKE_VERSIONS = [['IKE_V2', 'IKE_V2'], ['IKE_V1', 'IKE_V1'], ['IKE_FLEX', 'IKE_FLEX']];
const IKE_ENC = ['AES_128', 'AES_256', 'AES_GCM_128', 'AES_GCM_192', 'AES_GCM_256'];
const TUNNEL_ENC = ['AES_128', 'AES_256', 'AES_GCM_128', 'AES_GCM_192', 'AES_GCM_256',
  'NO_ENCRYPTION_AUTH_AES_GMAC_128', 'NO_ENCRYPTION_AUTH_AES_GMAC_192', 'NO_ENCRYPTION_AUTH_AES_GMAC_256', 'NO_ENCRYPTION'];
const DIGESTS = ['SHA1', 'SHA2_256', 'SHA2_384', 'SHA2_512'];
const DH_GROUPS = ['GROUP2', 'GROUP5', 'GROUP14', 'GROUP15', 'GROUP16', 'GROUP19', 'GROUP20', 'GROUP21', 'GROUP31'];
const DF = [['COPY', 'Copy'], ['CLEAR', 'Clear']];
const PROBE_MODES = [['PERIODIC', 'Periodic'], ['ON_DEMAND', 'On Demand']];

const list = (v) => (Array.isArray(v) && v.length ? v.join(', ') : '\u2014');
const secs = (v) => (v === undefined || v === null ? '\u2014' : `${v} s`);
const labelOf = (pairs, v) => (pairs.find(([x]) => x === v) || [v, v])[1];

const COLUMNS = {
  ike: [
    { label: 'IKE Version', render: (p) => p.ike_version },
    { label: 'Encryption', render: (p) => list(p.encryption_algorithms) },
    { label: 'Digest', render: (p) => list(p.digest_algorithms) },
    { label: 'DH Groups', render: (p) => list(p.dh_groups) },
    { label: 'SA Lifetime', className: 'num', render: (p) => secs(p.sa_life_time) },
  ],
  ipsec: [
    { label: 'Encryption', render: (p) => list(p.encryption_algorithms) },
    { label: 'Digest', render: (p) => list(p.digest_algorithms) },
    { label: 'PFS', render: (p) => (p.enable_perfect_forward_secrecy === false ? 'Disabled' : 'Enabled') },
    { label: 'DH Groups', render: (p) => list(p.dh_groups) },
    { label: 'SA Lifetime', className: 'num', render: (p) => secs(p.sa_life_time) },
    { label: 'DF Bit', render: (p) => labelOf(DF, p.df_policy || 'COPY') },
  ],
  dpd: [
    { label: 'Admin Status', render: (p) => adminStatus(p.enabled !== false) },
    { label: 'Probe Mode', render: (p) => labelOf(PROBE_MODES, p.dpd_probe_mode || 'PERIODIC') },
    { label: 'Probe Interval', className: 'num', render: (p) => secs(p.dpd_probe_interval) },
    { label: 'Retry Count', className: 'num', render: (p) => p.retry_count },
  ],
};

export function render(panel, ctx) {
  const kind = PROFILE_KINDS[ctx.sub] ? ctx.sub : 'ike';
  const k = PROFILE_KINDS[kind];
  const sub = tabList({
    label: 'Profiles',
    className: 'subtabs',
    current: `profiles-${kind}`,
    tabs: Object.values(PROFILE_KINDS).map((x) => ({ id: `profiles-${x.key}`, label: x.plural, href: `#/vpn/profiles/${x.key}` })),
  });
  const notice = noticeArea();
  const body = h('div', { class: 'table-wrap' }, loading());
  const count = h('span', { class: 'count' });
  const add = () => openProfileForm({ kind, onSaved: () => ctx.refresh() });
  const addBtn = ctx.isAdmin ? h('button', { type: 'button', class: 'btn btn-primary', onclick: add }, `Add ${k.noun}`) : null;
  const inner = h('div', { role: 'tabpanel', id: `panel-profiles-${kind}`, 'aria-labelledby': `tab-profiles-${kind}`, class: 'subpanel' },
    toolbar(addBtn, [count, refreshButton(() => ctx.refresh())]), notice.el, body);
  panel.append(sub, inner);

  loadProfiles(kind).then((profiles) => {
    if (!ctx.current()) return;
    const rows = profiles.slice().sort((a, b) => (a._system_owned === b._system_owned ? byName(a, b) : (a._system_owned ? 1 : -1)));
    const user = rows.filter((p) => !p._system_owned).length;
    count.textContent = `${rows.length} ${rows.length === 1 ? 'profile' : 'profiles'} (${user} user-defined, ${rows.length - user} system)`;
    clear(body).append(dataTable({
      caption: k.plural,
      rows,
      key: (p) => p.path,
      actions: ctx.isAdmin ? (p) => menuButton({
        ariaLabel: true, name: `Actions for ${p.display_name}`, content: '\u22ee',
        items: () => {
          const reason = p._system_owned ? 'System-owned profiles are read-only' : null;
          return [
            { label: 'Edit', disabled: !!p._system_owned, reason, onSelect: () => openProfileForm({ kind, profile: p, onSaved: () => ctx.refresh() }) },
            { label: 'Delete', disabled: !!p._system_owned, reason, onSelect: () => deleteProfile(kind, p, ctx, notice) },
          ];
        },
      }) : null,
      columns: [
        {
          label: 'Name', className: 'col-name',
          render: (p) => h('span', { class: 'name-cell' }, h('span', { class: 'obj-name', title: p.display_name }, p.display_name), p._system_owned ? [' ', systemBadge()] : null),
        },
        ...COLUMNS[kind],
      ],
      empty: emptyState(`No ${k.plural} yet`, `Add an ${k.noun} to use it in IPSec sessions.`,
        ctx.isAdmin ? h('button', { type: 'button', class: 'btn btn-secondary', onclick: add }, `Add ${k.noun}`) : null),
    }));
  }).catch((err) => {
    if (!ctx.current() || err.status === 401) return;
    clear(body).append(errorBanner(`Could not load the ${k.plural}: ${err.message}`, () => ctx.refresh()));
  });
}

async function deleteProfile(kind, p, ctx, notice) {
  const k = PROFILE_KINDS[kind];
  const ok = await confirmDialog({
    title: `Delete ${k.noun}`,
    message: `Delete the ${k.noun} "${p.display_name}"? Sessions that use it must be changed first.`,
    confirmLabel: 'Delete',
    danger: true,
  });
  if (!ok) return;
  try {
    await api.del(p.path);
    toast(`${k.noun} ${p.display_name} deleted.`);
    ctx.refresh();
  } catch (err) {
    if (err.status !== 401) notice.show('error', `Could not delete ${p.display_name}: ${err.message}`);
  }
}

/** Add (or Edit, with `profile`) an IKE, IPSec or DPD profile. `onSaved(profile)`. */
export function openProfileForm({ kind, profile, onSaved }) {
  const k = PROFILE_KINDS[kind];
  const editing = !!profile;
  const p = profile || {};
  const banner = formBanner();
  const name = field({ label: 'Name', control: textInput({ maxlength: 255, value: p.display_name || '' }), required: true });
  const desc = descriptionField(p.description || '');
  const fields = [name];
  const map = [[['display_name', 'id'], name]];
  let collect;

  if (kind === 'ike') {
    const version = field({ label: 'IKE Version', control: select(IKE_VERSIONS, p.ike_version || 'IKE_V2'), hint: 'strait negotiates IKE_V2.' });
    const enc = checkboxGroup({ legend: 'Encryption Algorithms', values: IKE_ENC, checked: p.encryption_algorithms || ['AES_128'], required: true, hint: 'AES_GCM ciphers need IKE_V2 and take no digest.' });
    const dig = checkboxGroup({ legend: 'Digest Algorithms', values: DIGESTS, checked: p.digest_algorithms || ['SHA2_256'], hint: 'Leave empty with GCM-only ciphers.' });
    const dh = checkboxGroup({ legend: 'Diffie-Hellman Groups', values: DH_GROUPS, checked: p.dh_groups || ['GROUP14'], required: true });
    const life = field({ label: 'SA Lifetime (seconds)', control: textInput({ inputmode: 'numeric', maxlength: 10, value: String(p.sa_life_time || 86400) }), hint: '21600 to 31536000.' });
    fields.push(version, enc, dig, dh, life);
    map.push(['ike_version', version], ['encryption_algorithms', enc], ['digest_algorithms', dig], ['dh_groups', dh], ['sa_life_time', life]);
    collect = (b) => {
      b.ike_version = version.input.value;
      b.encryption_algorithms = enc.get();
      b.digest_algorithms = dig.get();
      b.dh_groups = dh.get();
      setInt(b, 'sa_life_time', life.input.value);
    };
  } else if (kind === 'ipsec') {
    const enc = checkboxGroup({ legend: 'Encryption Algorithms', values: TUNNEL_ENC, checked: p.encryption_algorithms || ['AES_GCM_128'], required: true, hint: 'AES_GCM and GMAC take no digest; NO_ENCRYPTION needs one.' });
    const dig = checkboxGroup({ legend: 'Digest Algorithms', values: DIGESTS, checked: p.digest_algorithms || [] });
    const pfsSw = switchInput(p.enable_perfect_forward_secrecy !== false);
    const pfs = field({ label: 'PFS Group', control: pfsSw, input: pfsSw.input, hint: 'Perfect forward secrecy: a new Diffie-Hellman exchange at every rekey.' });
    const dh = checkboxGroup({ legend: 'Diffie-Hellman Groups', values: DH_GROUPS, checked: p.dh_groups || ['GROUP14'], required: true });
    const life = field({ label: 'SA Lifetime (seconds)', control: textInput({ inputmode: 'numeric', maxlength: 10, value: String(p.sa_life_time || 3600) }), hint: '900 to 31536000.' });
    const df = field({ label: 'DF Bit', control: select(DF, p.df_policy || 'COPY') });
    fields.push(enc, dig, pfs, dh, life, df);
    map.push(['encryption_algorithms', enc], ['digest_algorithms', dig], ['enable_perfect_forward_secrecy', pfs], ['dh_groups', dh], ['sa_life_time', life], ['df_policy', df]);
    collect = (b) => {
      b.encryption_algorithms = enc.get();
      b.digest_algorithms = dig.get();
      b.enable_perfect_forward_secrecy = pfsSw.input.checked;
      b.dh_groups = dh.get();
      setInt(b, 'sa_life_time', life.input.value);
      b.df_policy = df.input.value;
    };
  } else {
    const enSw = switchInput(p.enabled !== false);
    const enabled = field({ label: 'Admin Status', control: enSw, input: enSw.input });
    const mode = field({ label: 'DPD Probe Mode', control: select(PROBE_MODES, p.dpd_probe_mode || 'PERIODIC') });
    const interval = field({ label: 'DPD Probe Interval (seconds)', control: textInput({ inputmode: 'numeric', maxlength: 4, value: String(p.dpd_probe_interval || 60) }) });
    const retry = field({ label: 'Retry Count', control: textInput({ inputmode: 'numeric', maxlength: 4, value: String(p.retry_count || 10) }), hint: '1 to 100 unanswered probes before the peer is declared dead.' });
    const syncHint = () => interval.setHint(mode.input.value === 'ON_DEMAND' ? '1 to 10 seconds on demand.' : '3 to 360 seconds when periodic.');
    mode.input.addEventListener('change', () => {
      const v = interval.input.value.trim();
      if (mode.input.value === 'ON_DEMAND' && v === '60') interval.input.value = '10';
      if (mode.input.value === 'PERIODIC' && v === '10') interval.input.value = '60';
      syncHint();
    });
    syncHint();
    fields.push(enabled, mode, interval, retry);
    map.push(['enabled', enabled], ['dpd_probe_mode', mode], ['dpd_probe_interval', interval], ['retry_count', retry]);
    collect = (b) => {
      b.enabled = enSw.input.checked;
      b.dpd_probe_mode = mode.input.value;
      setInt(b, 'dpd_probe_interval', interval.input.value);
      setInt(b, 'retry_count', retry.input.value);
    };
  }
  fields.push(desc);
  map.push(['description', desc]);
  const errors = new FormErrors(banner, map);
  const formId = `${name.input.id}-form`;

  const dlg = openDialog({
    title: `${editing ? 'Edit' : 'Add'} ${k.noun}`,
    className: 'dialog-md',
    build(body, d) {
      const form = h('form', { class: 'form', id: formId, novalidate: true }, banner,
        h('div', { class: 'form-grid' }, fields.map((f) => f.wrap)));
      form.addEventListener('submit', (e) => { e.preventDefault(); save(); });
      body.append(form);
      d.footer.append(d.cancelButton(), h('button', { type: 'submit', class: 'btn btn-primary', form: formId }, 'Save'));
    },
    initialFocus: () => name.input,
  });

  async function save() {
    const display = name.input.value.trim();
    if (!display) {
      focusField(errors.show([{ field: 'display_name', message: 'is required: enter a name for the profile' }]));
      return;
    }
    const body = editing ? stripMeta(profile) : {};
    body.resource_type = k.resourceType;
    body.display_name = display;
    collect(body);
    if (desc.input.value) body.description = desc.input.value; else delete body.description;
    const id = idFromName(display);
    const path = editing ? profile.path : `${k.base}/${api.seg(id)}`;
    dlg.setBusy(true);
    try {
      const saved = await api.put(path, body);
      dlg.close();
      toast(`${k.noun} ${display} saved.`);
      if (onSaved) await onSaved(saved || { path, display_name: display });
    } catch (err) {
      dlg.setBusy(false);
      if (err.status === 401) {
        errors.show([{ field: '', message: 'Your session ended before the profile was saved; log in again and press Save.' }]);
        return;
      }
      const probs = createProblems(err, !editing, `${kind === 'dpd' ? 'A' : 'An'} ${k.noun}`, id, '');
      focusField(errors.show(probs, err.status === 412 ? 'Someone else changed this profile since you opened it. Cancel and open it again to see their change.' : undefined));
    }
  }
  return dlg;
}

function setInt(b, key, text) {
  const v = intOrText(text);
  if (v === undefined) delete b[key];
  else b[key] = v;
}
