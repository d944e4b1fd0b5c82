// Loading the VPN inventory from the policy API: gateways, their IPsec VPN services, the
// services' local endpoints and sessions, and the profiles.

import { list, seg } from './api.js';

export const PROFILE_KINDS = {
  ike: {
    key: 'ike', base: '/infra/ipsec-vpn-ike-profiles', noun: 'IKE Profile', plural: 'IKE Profiles',
    resourceType: 'IPSecVpnIkeProfile', defaultId: 'nsx-default-l3vpn-ike-profile', field: 'ike_profile_path',
  },
  ipsec: {
    key: 'ipsec', base: '/infra/ipsec-vpn-tunnel-profiles', noun: 'IPSec Profile', plural: 'IPSec Profiles',
    resourceType: 'IPSecVpnTunnelProfile', defaultId: 'nsx-default-l3vpn-tunnel-profile', field: 'tunnel_profile_path',
  },
  dpd: {
    key: 'dpd', base: '/infra/ipsec-vpn-dpd-profiles', noun: 'DPD Profile', plural: 'DPD Profiles',
    resourceType: 'IPSecVpnDpdProfile', defaultId: 'nsx-default-l3vpn-dpd-profile', field: 'dpd_profile_path',
  },
};

/** Default profile path of a kind. */
export function defaultProfilePath(kind) {
  const k = PROFILE_KINDS[kind];
  return `${k.base}/${k.defaultId}`;
}

/** Every tier-0 and tier-1 gateway, tier-0s first. */
export async function loadGateways() {
  const [t0, t1] = await Promise.all([list('/infra/tier-0s'), list('/infra/tier-1s')]);
  return [
    ...t0.map((g) => ({ ...g, tier: 'Tier-0' })),
    ...t1.map((g) => ({ ...g, tier: 'Tier-1' })),
  ];
}

/** Every IPsec VPN service, each with `gateway` (the gateway object). */
export async function loadServices(gateways) {
  const gws = gateways || await loadGateways();
  const per = await Promise.all(gws.map((g) => list(`${g.path}/ipsec-vpn-services`)
    .then((svcs) => svcs.map((s) => ({ ...s, gateway: g })))));
  return per.flat();
}

/**
 * Gateways, services and (as asked) every service's sessions and local endpoints.
 * Sessions and endpoints carry `service` (the service object).
 */
export async function loadInventory({ sessions = false, endpoints = false } = {}) {
  const gateways = await loadGateways();
  const services = await loadServices(gateways);
  const [sess, eps] = await Promise.all([
    sessions ? Promise.all(services.map((s) => list(`${s.path}/sessions`).then((xs) => xs.map((x) => ({ ...x, service: s }))))).then((a) => a.flat()) : [],
    endpoints ? Promise.all(services.map((s) => list(`${s.path}/local-endpoints`).then((xs) => xs.map((x) => ({ ...x, service: s }))))).then((a) => a.flat()) : [],
  ]);
  return { gateways, services, sessions: sess, endpoints: eps };
}

/** Profiles of one kind (`ike`, `ipsec`, `dpd`). */
export function loadProfiles(kind) {
  return list(PROFILE_KINDS[kind].base);
}

/** The local endpoints of one service. */
export function loadEndpoints(servicePath) {
  return list(`${servicePath}/local-endpoints`);
}

/** Path of a child object. */
export function childPath(parentPath, collection, id) {
  return `${parentPath}/${collection}/${seg(id)}`;
}

/** Last segment of a policy path. */
export function lastSegment(path) {
  const s = String(path || '').split('/');
  return decodeURIComponent(s[s.length - 1] || '');
}

/** A display name for a path, from a list of objects (falls back to the id). */
export function nameOf(path, objects) {
  if (!path) return '';
  const o = (objects || []).find((x) => x.path === path);
  return o ? (o.display_name || o.id) : lastSegment(path);
}

/** Sort by display name. */
export function byName(a, b) {
  return String(a.display_name || a.id).localeCompare(String(b.display_name || b.id), undefined, { numeric: true, sensitivity: 'base' });
}
