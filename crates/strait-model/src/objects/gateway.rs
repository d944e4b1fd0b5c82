//! Tier-0 and tier-1 gateways: containers for VPN services and static routes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{limits, Common};
use super::ParseCtx;
use crate::enums::{FailoverMode, HaMode};
use crate::path::Kind;
use crate::problems::Problems;
use crate::reader::ObjectReader;

/// A tier-0 (`Tier0`) or tier-1 (`Tier1`) gateway. strait models only what VPN needs; other
/// NSX gateway settings in a request body are accepted and ignored (see docs/api.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Gateway {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
    /// `ACTIVE_STANDBY` (default; required for VPN) or `ACTIVE_ACTIVE`.
    #[schema(required = false)]
    pub ha_mode: HaMode,
    /// Failover mode; stored for compatibility (strait runs a single node).
    #[schema(required = false)]
    pub failover_mode: FailoverMode,
    /// Tier-1 only: the tier-0 it connects to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier0_path: Option<String>,
}

impl Gateway {
    pub(crate) fn parse<'a>(
        r: &mut ObjectReader<'a>,
        p: &mut Problems,
        ctx: &ParseCtx<'_>,
    ) -> Gateway {
        let common = Common::read(r, p, ctx.path.id());
        let ha_mode = r.enumeration(p, "ha_mode").unwrap_or(HaMode::ActiveStandby);
        let failover_mode = r
            .enumeration(p, "failover_mode")
            .unwrap_or(FailoverMode::NonPreemptive);
        let tier0_path = if ctx.path.kind() == Kind::Tier1 {
            r.string(p, "tier0_path", limits::PATH_MAX_CHARS)
                .and_then(|s| {
                    super::check_path_syntax(p, "tier0_path", &s, &[Kind::Tier0]).then_some(s)
                })
        } else {
            None
        };
        Gateway {
            common,
            ha_mode,
            failover_mode,
            tier0_path,
        }
    }

    pub(crate) fn references(&self) -> Vec<String> {
        self.tier0_path.iter().cloned().collect()
    }
}
