//! The boards' shared state the service holds: the snapshots of live
//! boards (GetLeaderboard ranks against them, watch rounds renew them) and
//! the watched boards.

use super::snapshots::BoardSnapshots;
use super::watch::Watches;
use crate::api::{ApiError, AppState};
use crate::auth::AuthContext;
use crate::config::Limits;
use crate::proto::gamification::v1 as pb;

/// The boards' snapshots and their watchers.
#[derive(Clone)]
pub struct BoardHub {
    pub snapshots: BoardSnapshots,
    watches: Watches,
}

impl BoardHub {
    pub fn new(limits: &Limits) -> Self {
        let snapshots = BoardSnapshots::new(limits);
        Self {
            watches: Watches::new(limits, snapshots.clone()),
            snapshots,
        }
    }

    /// Opens a watch: RESOURCE_EXHAUSTED beyond the configured watchers.
    pub fn watch(
        &self,
        state: &AppState,
        ctx: AuthContext,
        req: pb::WatchLeaderboardRequest,
    ) -> Result<super::watch::Updates, ApiError> {
        self.watches.watch(state, ctx, req)
    }
}
