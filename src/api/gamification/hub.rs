//! The boards' shared state the service holds: the snapshots of live
//! boards (GetLeaderboard ranks against them, watch rounds renew them) and
//! the watched boards.

use super::snapshots::BoardSnapshots;
use super::watch::Watches;
use crate::config::Limits;

/// The boards' snapshots and their watchers.
#[derive(Clone)]
pub struct BoardHub {
    pub snapshots: BoardSnapshots,
    pub watches: Watches,
}

impl BoardHub {
    pub fn new(limits: &Limits) -> Self {
        let snapshots = BoardSnapshots::new(limits);
        Self {
            watches: Watches::new(limits, snapshots.clone()),
            snapshots,
        }
    }
}
