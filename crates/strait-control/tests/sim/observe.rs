//! What a scenario observes of the simulated world: sessions' status as the API shows it,
//! and checkpoints at which every link must be UP and carry packets both ways.

use std::time::Duration;

use strait_control::StatusView;

use super::{NetProfile, World};

impl World {
    /// The session's status as the API shows it (None: gateway down or unknown session).
    pub fn status(
        &self,
        k: usize,
        session: &str,
    ) -> Option<strait_model::status::SessionStatusNsxT> {
        let g = &self.gws[k];
        let gw = g.gw.as_ref()?;
        StatusView::new(gw.board(), g.dp.clone()).session_status(session)
    }

    pub fn is_up(&self, k: usize, session: &str) -> bool {
        self.status(k, session)
            .is_some_and(|s| s.runtime_status == "UP")
    }

    /// Every link UP on both ends.
    pub fn all_up(&self) -> bool {
        self.links
            .iter()
            .all(|l| self.is_up(l.a.0, &l.a.1) && self.is_up(l.b.0, &l.b.1))
    }

    /// A checkpoint: stop all trouble (clean network, every gateway running, nothing
    /// scheduled), wait until every link is UP on both ends (at most `limit`), let IKE settle,
    /// then probe both directions of every link and require every probe to arrive.
    pub fn assert_converges(&mut self, limit: Duration, what: &str) {
        self.actions.clear();
        self.net = NetProfile::CLEAN;
        for k in 0..self.gws.len() {
            if self.gws[k].gw.is_none() {
                self.start(k);
            }
        }
        let deadline = self.now + limit;
        while !self.all_up() && self.now < deadline {
            let until = (self.now + Duration::from_millis(250)).min(deadline);
            self.run_for(until - self.now);
        }
        assert!(
            self.all_up(),
            "seed {}: {what}: not UP after {limit:?}:\n{}",
            self.seed,
            self.describe()
        );
        // Duplicates from simultaneous exchanges are deleted within a few retransmissions.
        self.run_for(Duration::from_secs(10));
        assert!(
            self.all_up(),
            "seed {}: {what}: UP then not:\n{}",
            self.seed,
            self.describe()
        );
        let mut ids = Vec::new();
        for l in self.links.clone() {
            for (k, s) in [&l.a, &l.b] {
                match self.probe(*k, s) {
                    Some(id) => ids.push((id, *k, s.clone())),
                    None => panic!(
                        "seed {}: {what}: gateway {} cannot send on {s}:\n{}",
                        self.seed,
                        self.gws[*k].name,
                        self.describe()
                    ),
                }
            }
        }
        self.run_for(Duration::from_secs(1));
        for (id, k, s) in ids {
            assert!(
                self.probes_delivered.contains(&id),
                "seed {}: {what}: a packet sent by gateway {} into {s} never came out of the peer's VTI (a direction is black-holed):\n{}",
                self.seed,
                self.gws[k].name,
                self.describe()
            );
        }
    }

    /// Both ends of every link: status, SAs in IKE and in the data plane.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for l in &self.links {
            for (k, s) in [&l.a, &l.b] {
                let g = &self.gws[*k];
                let st = self.status(*k, s);
                let ike = g.gw.as_ref().map(|gw| {
                    gw.endpoint()
                        .installed_child_sas(&ike_proto::SessionId(s.clone()))
                });
                let dp = strait_control::DataplaneApi::sa_state(&*g.dp, s);
                out.push_str(&format!(
                    "  gateway {} {s}: {} ike={:?} fail={:?}\n    IKE child SAs {:08x?}\n    data plane {:08x?}\n",
                    g.name,
                    st.as_ref().map_or("(down)".into(), |s| s.runtime_status.clone()),
                    st.as_ref().map(|s| s.ike_status.ike_session_state.clone()),
                    st.as_ref().map(|s| s.ike_status.fail_reason.clone()),
                    ike,
                    dp,
                ));
            }
        }
        out
    }
}
