//! Our requests: the tasks queued on an IKE SA, started one at a time when the request
//! window (RFC 7296 §2.3, a window of one) is free.

use std::time::Instant;

use ike_wire::{Delete, ExchangeType, Notify, NotifyType, Payload, ProtocolId};

use crate::child_sa::needs_child;
use crate::endpoint::Endpoint;
use crate::exchanges::{generate_dh, our_selectors, NONCE_LEN};
use crate::proposal::{esp_proposals, ike_proposals};
use crate::random::{self, Random};
use crate::sa::{RequestKind, SaState, Task};

impl Endpoint {
    // ============================== tasks (our requests) ==============================

    /// Start a queued task; returns whether a request went out.
    pub(crate) fn start_task(
        &mut self,
        now: Instant,
        h: u64,
        task: Task,
        rng: &mut dyn Random,
    ) -> bool {
        let Some(sa) = self.sas.get(&h) else {
            return false;
        };
        let session = sa.session.clone();
        let Some(cfg) = self.session_config(&session).cloned() else {
            return false;
        };
        if sa.state == SaState::Rekeyed && !matches!(task, Task::DeleteIke) {
            return false;
        }
        let (inner, kind) = match task {
            Task::CreateChild => {
                if !needs_child(sa) || sa.state != SaState::Established {
                    return false;
                }
                let spi_in = self.new_child_spi(rng);
                let nonce = random::vec(rng, NONCE_LEN);
                let dh = match cfg.esp.iter().find_map(|p| p.pfs_groups.first().copied()) {
                    Some(g) => match generate_dh(g, rng) {
                        Some(d) => Some(d),
                        None => return false,
                    },
                    None => None,
                };
                let mut inner = vec![
                    Payload::Sa(esp_proposals(&cfg.esp, spi_in, dh.is_some())),
                    Payload::Nonce(nonce.clone()),
                ];
                if let Some(d) = &dh {
                    inner.push(Payload::Ke {
                        group: d.group().id(),
                        data: d.public_value(),
                    });
                }
                inner.push(Payload::ts_i(our_selectors(&cfg)));
                inner.push(Payload::ts_r(our_selectors(&cfg)));
                (
                    inner,
                    RequestKind::CreateChild {
                        rekey_of: None,
                        spi_in,
                        nonce,
                        dh,
                    },
                )
            }
            Task::RekeyChild(old) => {
                let Some(child) = sa.child(old) else {
                    return false;
                };
                if child.superseded || child.own_rekey.is_some() {
                    return false;
                }
                let spi_in = self.new_child_spi(rng);
                let nonce = random::vec(rng, NONCE_LEN);
                let group = child
                    .suite
                    .group
                    .or_else(|| cfg.esp.iter().find_map(|p| p.pfs_groups.first().copied()));
                let dh = match group {
                    Some(g) => match generate_dh(g, rng) {
                        Some(d) => Some(d),
                        None => return false,
                    },
                    None => None,
                };
                let mut inner = vec![
                    Payload::Notify(Notify {
                        protocol: ProtocolId::ESP,
                        spi: old.to_be_bytes().to_vec(),
                        notify_type: NotifyType::REKEY_SA,
                        data: vec![],
                    }),
                    Payload::Sa(esp_proposals(&cfg.esp, spi_in, dh.is_some())),
                    Payload::Nonce(nonce.clone()),
                ];
                if let Some(d) = &dh {
                    inner.push(Payload::Ke {
                        group: d.group().id(),
                        data: d.public_value(),
                    });
                }
                inner.push(Payload::ts_i(child.ts_local.clone()));
                inner.push(Payload::ts_r(child.ts_remote.clone()));
                if let Some(sa) = self.sas.get_mut(&h) {
                    if let Some(c) = sa.child_mut(old) {
                        c.rekeying = true;
                    }
                }
                (
                    inner,
                    RequestKind::CreateChild {
                        rekey_of: Some(old),
                        spi_in,
                        nonce,
                        dh,
                    },
                )
            }
            Task::RekeyIke => {
                let Some(suite) = sa.suite else { return false };
                if sa.state != SaState::Established {
                    return false;
                }
                let new_spi = loop {
                    let s = random::ike_spi(rng);
                    if !self.by_spi.contains_key(&s) {
                        break s;
                    }
                };
                let nonce = random::vec(rng, NONCE_LEN);
                let Some(dh) = generate_dh(suite.group, rng) else {
                    return false;
                };
                let inner = vec![
                    Payload::Sa(ike_proposals(&cfg.ike, &new_spi)),
                    Payload::Nonce(nonce.clone()),
                    Payload::Ke {
                        group: dh.group().id(),
                        data: dh.public_value(),
                    },
                ];
                (inner, RequestKind::RekeyIke { new_spi, nonce, dh })
            }
            Task::DeleteChildren(spis) => {
                let spis: Vec<u32> = spis
                    .into_iter()
                    .filter(|s| sa.child(*s).is_some())
                    .collect();
                if spis.is_empty() {
                    return false;
                }
                let inner = vec![Payload::Delete(Delete {
                    protocol: ProtocolId::ESP,
                    spis: spis.iter().map(|s| s.to_be_bytes().to_vec()).collect(),
                })];
                (inner, RequestKind::DeleteChild { spis_in: spis })
            }
            Task::DeleteIke => {
                let inner = vec![Payload::Delete(Delete {
                    protocol: ProtocolId::IKE,
                    spis: vec![],
                })];
                (inner, RequestKind::DeleteIke)
            }
            Task::Liveness => (Vec::new(), RequestKind::Liveness),
            Task::Dpd => {
                // The probe is moot if DPD was switched off, or if the peer showed signs of
                // life while it waited behind another request.
                let Some(dpd) = cfg.dpd else { return false };
                let queued = sa.dpd_sent;
                let esp_in = self.sessions.get(&session).and_then(|s| s.esp_in);
                let heard = sa.last_heard.max(esp_in);
                if sa.state != SaState::Established || (heard.is_some() && heard >= queued) {
                    return false;
                }
                (
                    Vec::new(),
                    RequestKind::Dpd {
                        retry_count: dpd.retry_count,
                    },
                )
            }
        };
        let exchange = match kind {
            RequestKind::CreateChild { .. } | RequestKind::RekeyIke { .. } => {
                ExchangeType::CREATE_CHILD_SA
            }
            _ => ExchangeType::INFORMATIONAL,
        };
        let Some(sa) = self.sas.get_mut(&h) else {
            return false;
        };
        if matches!(kind, RequestKind::DeleteIke) {
            sa.state = SaState::Deleting;
        }
        let id = sa.next_request_id;
        let Ok(bytes) = sa.seal_message(exchange, id, false, &inner, rng) else {
            return false;
        };
        self.send_request(now, h, id, bytes, kind);
        true
    }
}
