//! Snapshots of live boards: one per board (reach and period), the whole
//! board in board order with the names of its first people, shared by
//! GetLeaderboard and WatchLeaderboard's rounds (a rank is a binary search
//! in it, not a count over the board). GetLeaderboard takes one at most the
//! configured age old (`STRIDE_BOARD_SNAPSHOT_MS`); a watch round reads the
//! board itself every round and leaves what it read for GetLeaderboard.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use crate::api::ApiError;
use crate::config::Limits;
use crate::db::boards::{self, Names, Period, Reach};
use crate::domain::gamification::boards::BOARD_PAGE;
use crate::domain::gamification::boards::Standing;
use crate::proto::gamification::v1 as pb;

/// How many of a board's first people a snapshot holds the names of: a
/// page no deeper than this is answered from memory.
pub const NAMED: usize = BOARD_PAGE.1 as usize;

/// A snapshot of a whole board: its ranked people in board order, where
/// each is in it, when it was read, and the names of its first [`NAMED`]
/// people.
#[derive(Debug, Clone)]
pub struct Ranked {
    pub board: Arc<Vec<Standing>>,
    positions: Arc<HashMap<Uuid, usize>>,
    pub as_of: DateTime<Utc>,
    pub names: Arc<Names>,
}

impl Ranked {
    /// `board` as read at `as_of`, with the names of its first people.
    pub fn new(board: Vec<Standing>, as_of: DateTime<Utc>, names: Names) -> Self {
        let positions = board
            .iter()
            .enumerate()
            .map(|(i, s)| (s.user_id, i))
            .collect();
        Self {
            board: Arc::new(board),
            positions: Arc::new(positions),
            as_of,
            names: Arc::new(names),
        }
    }

    /// A person's standing, `None` when they are not on the board (a
    /// lookup, not a scan: boards hold every ranked person).
    pub fn standing_of(&self, user: Uuid) -> Option<Standing> {
        self.positions.get(&user).map(|i| self.board[*i])
    }
}

/// A whole board: (reach, period).
type BoardKey = (Reach, Period);
/// A board as a request names it: reach, kind of period, and the
/// organization whose time zone sets the period (the caller's, for the
/// platform board).
type KindKey = (Reach, pb::LeaderboardPeriod, Uuid);
/// How a period was worked out: its kind, in the time zone of which
/// organization, and that zone.
pub type How = (pb::LeaderboardPeriod, Uuid, chrono_tz::Tz);

/// One board's snapshot, and the lock its one refresher holds.
#[derive(Default)]
struct Slot {
    held: Mutex<Option<Held>>,
    refresh: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
struct Held {
    /// When its read began (a later read is not replaced by an earlier).
    began: Instant,
    /// When its read ended: its age counts from here.
    at: Instant,
    ranked: Ranked,
}

/// The boards' snapshots, and the period each board kind was last read for.
#[derive(Clone)]
pub struct BoardSnapshots {
    boards: Arc<Mutex<HashMap<BoardKey, Arc<Slot>>>>,
    /// The period (and the zone it was worked out in) each board kind was
    /// last read for: how a request finds its snapshot without the database.
    current: Arc<Mutex<HashMap<KindKey, (chrono_tz::Tz, Period)>>>,
    ttl: Duration,
}

impl BoardSnapshots {
    pub fn new(limits: &Limits) -> Self {
        Self {
            boards: Arc::default(),
            current: Arc::default(),
            ttl: Duration::from_millis(limits.board_cache_ms),
        }
    }

    /// The snapshot a request for a board kind can be answered from, with
    /// the zone and period it was read for: `None` when none is held, or it
    /// is older than the configured age and nobody is renewing it (the
    /// caller then reads it through [`BoardSnapshots::ranked`]). Like
    /// `ranked`, callers are served the previous snapshot while one renews
    /// it.
    pub fn remembered(
        &self,
        reach: Reach,
        kind: pb::LeaderboardPeriod,
        zone_org: Uuid,
    ) -> Option<(chrono_tz::Tz, Period, Ranked)> {
        if self.ttl.is_zero() {
            return None;
        }
        let (zone, period) = *lock(&self.current).get(&(reach, kind, zone_org))?;
        let slot = lock(&self.boards).get(&(reach, period))?.clone();
        let held = lock(&slot.held).clone()?;
        let renewing = slot.refresh.try_lock().is_err();
        (held.at.elapsed() < self.ttl || renewing).then_some((zone, period, held.ranked))
    }

    /// The ranked people of a board in board order, as of at most the
    /// configured snapshot age ago (GetLeaderboard). One caller refreshes
    /// an expired snapshot (in its transaction) while the others are served
    /// the previous one; only a board never read makes callers wait.
    /// `how` says how `period` was worked out.
    pub async fn ranked(
        &self,
        conn: &mut AsyncPgConnection,
        reach: Reach,
        period: Period,
        how: How,
    ) -> Result<Ranked, ApiError> {
        let ttl = self.ttl;
        let slot = self.slot(reach, period);
        let current = |slot: &Slot| lock(&slot.held).clone();
        if let Some(held) = current(&slot) {
            if held.at.elapsed() < ttl {
                return Ok(held.ranked);
            }
        }
        let _refreshing = match slot.refresh.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                if let Some(held) = current(&slot) {
                    return Ok(held.ranked);
                }
                let guard = slot.refresh.lock().await;
                if let Some(held) = current(&slot) {
                    if held.at.elapsed() < ttl {
                        return Ok(held.ranked);
                    }
                }
                guard
            }
        };
        self.read_into(conn, &slot, reach, period, how).await
    }

    /// The board read now, in this transaction, whatever snapshot is held
    /// (a watch round: as fresh as when each round read its own board), and
    /// kept as the board's snapshot unless a later read was kept already.
    pub async fn read(
        &self,
        conn: &mut AsyncPgConnection,
        reach: Reach,
        period: Period,
        how: How,
    ) -> Result<Ranked, ApiError> {
        let slot = self.slot(reach, period);
        self.read_into(conn, &slot, reach, period, how).await
    }

    /// The board's slot, made if new.
    fn slot(&self, reach: Reach, period: Period) -> Arc<Slot> {
        let ttl = self.ttl;
        let mut all = lock(&self.boards);
        // Boards nobody asked for in a while are dropped.
        all.retain(|_, slot| {
            lock(&slot.held)
                .as_ref()
                .is_none_or(|held| held.at.elapsed() < ttl * 60 + Duration::from_secs(60))
        });
        all.entry((reach, period)).or_default().clone()
    }

    async fn read_into(
        &self,
        conn: &mut AsyncPgConnection,
        slot: &Slot,
        reach: Reach,
        period: Period,
        how: How,
    ) -> Result<Ranked, ApiError> {
        let began = Instant::now();
        let as_of = Utc::now();
        let board = boards::ranked_all(conn, reach, period).await?;
        let first: Vec<Uuid> = board.iter().take(NAMED).map(|s| s.user_id).collect();
        let names = boards::names(conn, &first).await?;
        let ranked = Ranked::new(board, as_of, names);
        {
            let mut held = lock(&slot.held);
            if held.as_ref().is_none_or(|h| h.began <= began) {
                *held = Some(Held {
                    began,
                    at: Instant::now(),
                    ranked: ranked.clone(),
                });
            }
        }
        let (kind, zone_org, zone) = how;
        lock(&self.current).insert((reach, kind, zone_org), (zone, period));
        Ok(ranked)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
