//! Our requests: the tasks queued on an IKE SA, started one at a time when the request
//! window (RFC 7296 §2.3, a window of one) is free.

use std::time::Instant;

use ike_crypto::{DhGroup, DhPrivate};
use ike_wire::{Delete, ExchangeType, Notify, NotifyType, Payload, ProtocolId};

use crate::child_sa::needs_child;
use crate::config::SessionConfig;
use crate::endpoint::Endpoint;
use crate::exchanges::{our_selectors, NONCE_LEN};
use crate::kex::KexStage;
use crate::proposal::{esp_proposals, ike_proposals};
use crate::random::{self, Random};
use crate::sa::{RequestKind, SaState, Task};

/// What starting a task came to.
enum Started {
    /// The request to send.
    Request(Vec<Payload>, RequestKind),
    /// The task waits for its key pair (a crypto job, see [`crate::kex`]): the request
    /// window is taken meanwhile.
    Waiting,
    /// Nothing to do any more (the task became moot).
    Moot,
}

/// The key pair a request needs, if any.
enum KeyPair {
    Ready(Option<DhPrivate>),
    Waiting,
}

impl Endpoint {
    /// Start a queued task; returns whether the request window is now taken (a request
    /// went out, or the task waits for its key pair).
    pub(crate) fn start_task(
        &mut self,
        now: Instant,
        h: u64,
        task: Task,
        rng: &mut dyn Random,
    ) -> bool {
        self.start_task_with(now, h, task, None, rng)
    }

    /// [`Endpoint::start_task`] with the key pair made for it by a crypto job.
    pub(crate) fn start_task_with(
        &mut self,
        now: Instant,
        h: u64,
        task: Task,
        prepared: Option<DhPrivate>,
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
        let started = match task {
            Task::CreateChild => self.create_child_task(now, h, &cfg, prepared, rng),
            Task::RekeyChild(old) => self.rekey_child_task(now, h, old, &cfg, prepared, rng),
            Task::RekeyIke => self.rekey_ike_task(now, h, &cfg, prepared, rng),
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
                Started::Request(inner, RequestKind::DeleteChild { spis_in: spis })
            }
            Task::DeleteIke => {
                let inner = vec![Payload::Delete(Delete {
                    protocol: ProtocolId::IKE,
                    spis: vec![],
                })];
                Started::Request(inner, RequestKind::DeleteIke)
            }
            Task::Liveness => Started::Request(Vec::new(), RequestKind::Liveness),
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
                let kind = RequestKind::Dpd {
                    retry_count: dpd.retry_count,
                };
                Started::Request(Vec::new(), kind)
            }
        };
        let (inner, kind) = match started {
            Started::Request(inner, kind) => (inner, kind),
            Started::Waiting => return true,
            Started::Moot => return false,
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

    /// The key pair for `task`'s request: none without a group, the prepared one, or a
    /// crypto job to make one (the task waits in it, see [`crate::kex`]).
    fn key_pair_for(
        &mut self,
        now: Instant,
        h: u64,
        task: Task,
        group: Option<DhGroup>,
        prepared: Option<DhPrivate>,
        rng: &mut dyn Random,
    ) -> KeyPair {
        match (group, prepared) {
            (None, _) => KeyPair::Ready(None),
            (Some(g), Some(dh)) if dh.group() == g => KeyPair::Ready(Some(dh)),
            (Some(g), _) => {
                self.submit_kex(now, h, KexStage::Request(task), g, None, None, rng);
                KeyPair::Waiting
            }
        }
    }

    /// A new Child SA for an IKE SA that has none (§1.3.1), with PFS if the profile asks.
    fn create_child_task(
        &mut self,
        now: Instant,
        h: u64,
        cfg: &SessionConfig,
        prepared: Option<DhPrivate>,
        rng: &mut dyn Random,
    ) -> Started {
        let Some(sa) = self.sas.get(&h) else {
            return Started::Moot;
        };
        if !needs_child(sa) || sa.state != SaState::Established {
            return Started::Moot;
        }
        let group = cfg.esp.iter().find_map(|p| p.pfs_groups.first().copied());
        let dh = match self.key_pair_for(now, h, Task::CreateChild, group, prepared, rng) {
            KeyPair::Ready(dh) => dh,
            KeyPair::Waiting => return Started::Waiting,
        };
        let spi_in = self.new_child_spi(rng);
        let nonce = random::vec(rng, NONCE_LEN);
        let inner = child_payloads(
            cfg,
            spi_in,
            &nonce,
            dh.as_ref(),
            our_selectors(cfg),
            our_selectors(cfg),
        );
        let kind = RequestKind::CreateChild {
            rekey_of: None,
            spi_in,
            nonce,
            dh,
        };
        Started::Request(inner, kind)
    }

    /// Rekey Child SA `old` (§1.3.3), with PFS in the group it was made with (or the
    /// profile's first).
    fn rekey_child_task(
        &mut self,
        now: Instant,
        h: u64,
        old: u32,
        cfg: &SessionConfig,
        prepared: Option<DhPrivate>,
        rng: &mut dyn Random,
    ) -> Started {
        let Some(child) = self.sas.get(&h).and_then(|sa| sa.child(old)) else {
            return Started::Moot;
        };
        if child.superseded || child.own_rekey.is_some() {
            return Started::Moot;
        }
        let (ts_local, ts_remote) = (child.ts_local.clone(), child.ts_remote.clone());
        let group = child
            .suite
            .group
            .or_else(|| cfg.esp.iter().find_map(|p| p.pfs_groups.first().copied()));
        let dh = match self.key_pair_for(now, h, Task::RekeyChild(old), group, prepared, rng) {
            KeyPair::Ready(dh) => dh,
            KeyPair::Waiting => return Started::Waiting,
        };
        let spi_in = self.new_child_spi(rng);
        let nonce = random::vec(rng, NONCE_LEN);
        let mut inner = vec![Payload::Notify(Notify {
            protocol: ProtocolId::ESP,
            spi: old.to_be_bytes().to_vec(),
            notify_type: NotifyType::REKEY_SA,
            data: vec![],
        })];
        inner.extend(child_payloads(
            cfg,
            spi_in,
            &nonce,
            dh.as_ref(),
            ts_local,
            ts_remote,
        ));
        if let Some(c) = self.sas.get_mut(&h).and_then(|sa| sa.child_mut(old)) {
            c.rekeying = true;
        }
        let kind = RequestKind::CreateChild {
            rekey_of: Some(old),
            spi_in,
            nonce,
            dh,
        };
        Started::Request(inner, kind)
    }

    /// Rekey the IKE SA (§1.3.2) in its own DH group.
    fn rekey_ike_task(
        &mut self,
        now: Instant,
        h: u64,
        cfg: &SessionConfig,
        prepared: Option<DhPrivate>,
        rng: &mut dyn Random,
    ) -> Started {
        let Some(sa) = self.sas.get(&h) else {
            return Started::Moot;
        };
        let Some(suite) = sa.suite else {
            return Started::Moot;
        };
        if sa.state != SaState::Established {
            return Started::Moot;
        }
        let group = Some(suite.group);
        let dh = match self.key_pair_for(now, h, Task::RekeyIke, group, prepared, rng) {
            KeyPair::Ready(Some(dh)) => dh,
            KeyPair::Ready(None) => return Started::Moot,
            KeyPair::Waiting => return Started::Waiting,
        };
        let new_spi = loop {
            let s = random::ike_spi(rng);
            if !self.by_spi.contains_key(&s) {
                break s;
            }
        };
        let nonce = random::vec(rng, NONCE_LEN);
        let inner = vec![
            Payload::Sa(ike_proposals(&cfg.ike, &new_spi)),
            Payload::Nonce(nonce.clone()),
            Payload::Ke {
                group: dh.group().id(),
                data: dh.public_value(),
            },
        ];
        Started::Request(inner, RequestKind::RekeyIke { new_spi, nonce, dh })
    }
}

/// SA, Nonce, KE (with PFS) and the selectors of a request for a Child SA (RFC 7296
/// §1.3.1), new or rekeying one.
fn child_payloads(
    cfg: &SessionConfig,
    spi_in: u32,
    nonce: &[u8],
    dh: Option<&DhPrivate>,
    ts_i: Vec<ike_wire::TrafficSelector>,
    ts_r: Vec<ike_wire::TrafficSelector>,
) -> Vec<Payload> {
    let mut inner = vec![
        Payload::Sa(esp_proposals(&cfg.esp, spi_in, dh.is_some())),
        Payload::Nonce(nonce.to_vec()),
    ];
    if let Some(d) = dh {
        inner.push(Payload::Ke {
            group: d.group().id(),
            data: d.public_value(),
        });
    }
    inner.push(Payload::ts_i(ts_i));
    inner.push(Payload::ts_r(ts_r));
    inner
}
