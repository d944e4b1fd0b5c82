//! The open-files limit (issue 16): every VTI holds one TUN queue per data-plane worker and
//! every local endpoint a few UDP sockets, so a gateway with thousands of sessions needs
//! thousands of descriptors, while many hosts start processes with a soft limit of 1,024.
//! straitd raises its soft limit to the hard limit at startup and says, in the user's terms,
//! when even that is too low for the sessions configured.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Descriptors straitd needs besides its tunnels and endpoints: the store, the API's
/// connections, BIRD's control socket, logs, netlink.
const BASE_DESCRIPTORS: u64 = 256;

/// Raise the soft limit on open files to the hard limit. Returns the soft limit now.
pub fn raise_open_files() -> Option<u64> {
    let (soft, hard) = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the open-files limit");
            return None;
        }
    };
    if soft >= hard {
        return Some(soft);
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => {
            tracing::info!(
                from = soft,
                to = hard,
                "raised the open-files limit to the hard limit"
            );
            Some(hard)
        }
        Err(e) => {
            tracing::warn!(error = %e, soft, hard, "cannot raise the open-files limit");
            Some(soft)
        }
    }
}

/// About how many descriptors `sessions` sessions over `endpoints` local endpoints need
/// with `workers` data-plane workers.
pub fn descriptors_needed(sessions: u64, endpoints: u64, workers: u64) -> u64 {
    let per_tunnel = workers.max(1);
    // UDP 500, and UDP 4500 once per worker.
    let per_endpoint = 1 + workers.max(1);
    BASE_DESCRIPTORS
        .saturating_add(sessions.saturating_mul(per_tunnel))
        .saturating_add(endpoints.saturating_mul(per_endpoint))
}

/// Warn when `limit` is too low for what is configured.
pub fn check(limit: u64, sessions: u64, endpoints: u64, workers: u64) {
    let needed = descriptors_needed(sessions, endpoints, workers);
    if needed > limit {
        tracing::warn!(
            sessions,
            local_endpoints = endpoints,
            needed,
            limit,
            "the open-files limit is too low for the configured sessions: their tunnels need about {needed} descriptors ({workers} per tunnel with {workers} data-plane workers) and straitd may open {limit}; sessions beyond it will stay down with \"Configuration failed\". Raise the hard limit (LimitNOFILE= in the systemd unit, or ulimit -Hn) or run fewer --dataplane-workers"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_thousand_sessions_need_more_than_a_default_limit() {
        assert!(descriptors_needed(10_000, 1, 2) > 20_000);
        assert!(descriptors_needed(10, 1, 2) < 1_024);
        assert_eq!(descriptors_needed(0, 0, 2), BASE_DESCRIPTORS);
    }
}
