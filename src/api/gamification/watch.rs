//! WatchLeaderboard: one computation per board and interval, shared by
//! every watcher of that board. A board's task runs while it has watchers:
//! each round it reads the top N, every ranked person's points (one
//! index-only read) and the watchers' own points, all in one transaction,
//! and publishes the snapshot; each watcher derives its own rank by binary
//! search and is sent an update only when what it sees changed.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;

use futures::Stream;
use tokio::sync::{Notify, Semaphore, watch};
use tonic::Status;
use uuid::Uuid;

use super::leaderboard::{self, BoardRequest, Scope, Snapshot};
use crate::api::{ApiError, AppState, caller_user};
use crate::auth::AuthContext;
use crate::config::Limits;
use crate::db::boards::{self, Names, Period, Reach};
use crate::domain::gamification::boards::Standing;
use crate::proto::gamification::v1 as pb;

/// A board as watchers share it: the tenant it is read in and what it asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    org: Uuid,
    scope: Scope,
    period: pb::LeaderboardPeriod,
    top: i64,
}

/// Snapshots of a board as published.
type Snapshots = watch::Receiver<Option<Arc<Snapshot>>>;
/// A board's watchers: person -> open streams.
type Watchers = Arc<Mutex<HashMap<Uuid, usize>>>;

struct Shared {
    snapshots: Snapshots,
    watchers: Watchers,
    /// Wakes the round early for a new watcher's first answer.
    wake: Arc<Notify>,
}

/// The boards being watched, the bound on watchers, and the short-lived
/// snapshots of whole boards (and of organizations' time zones) that
/// GetLeaderboard ranks against.
#[derive(Clone)]
pub struct BoardHub {
    boards: Arc<Mutex<HashMap<Key, Shared>>>,
    interval: Duration,
    slots: Arc<Semaphore>,
    ranked: Arc<Mutex<HashMap<RankedKey, Arc<RankedSlot>>>>,
    /// The period (and the zone it was worked out in) each board kind was
    /// last read for: how a request finds its snapshot without the database.
    current: Arc<Mutex<HashMap<KindKey, (chrono_tz::Tz, Period)>>>,
    ranked_ttl: Duration,
}

/// A whole board: (reach, period).
type RankedKey = (Reach, Period);
/// A board as a request names it: reach, kind of period, and the
/// organization whose time zone sets the period (the caller's, for the
/// platform board).
type KindKey = (Reach, pb::LeaderboardPeriod, Uuid);
/// One board's snapshot, and the lock its one refresher holds.
#[derive(Default)]
struct RankedSlot {
    value: Mutex<Option<(Instant, Ranked)>>,
    refresh: tokio::sync::Mutex<()>,
}

/// How many of a board's first people a snapshot holds the names of: a
/// page no deeper than this is answered from memory.
pub const NAMED: usize = super::leaderboard::BOARD_PAGE.1 as usize;

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

type Updates = Pin<Box<dyn Stream<Item = Result<pb::WatchLeaderboardResponse, Status>> + Send>>;

impl BoardHub {
    pub fn new(limits: &Limits) -> Self {
        Self {
            boards: Arc::default(),
            interval: Duration::from_millis(limits.board_watch_interval_ms),
            slots: Arc::new(Semaphore::new(limits.max_board_watchers)),
            ranked: Arc::default(),
            current: Arc::default(),
            ranked_ttl: Duration::from_millis(limits.board_cache_ms),
        }
    }

    /// The snapshot a request for a board kind can be answered from, with
    /// the zone and period it was read for: `None` when none is held, or it
    /// is older than the configured age and nobody is renewing it (the
    /// caller then reads it through [`BoardHub::ranked`]). Like `ranked`,
    /// callers are served the previous snapshot while one renews it.
    pub fn remembered(
        &self,
        reach: Reach,
        kind: pb::LeaderboardPeriod,
        zone_org: Uuid,
    ) -> Option<(chrono_tz::Tz, Period, Ranked)> {
        if self.ranked_ttl.is_zero() {
            return None;
        }
        let (zone, period) = *lock(&self.current).get(&(reach, kind, zone_org))?;
        let slot = lock(&self.ranked).get(&(reach, period))?.clone();
        let (at, ranked) = lock(&slot.value).clone()?;
        let renewing = slot.refresh.try_lock().is_err();
        (at.elapsed() < self.ranked_ttl || renewing).then_some((zone, period, ranked))
    }

    /// The ranked people of a board in board order, as of at most the
    /// configured snapshot age ago. One caller refreshes an expired
    /// snapshot (in its transaction) while the others are served the
    /// previous one; only a board never read makes callers wait.
    /// `how` says how `period` was worked out: its kind, in the time zone
    /// of which organization, and that zone.
    pub async fn ranked(
        &self,
        conn: &mut AsyncPgConnection,
        reach: Reach,
        period: Period,
        how: (pb::LeaderboardPeriod, Uuid, chrono_tz::Tz),
    ) -> Result<Ranked, ApiError> {
        let ttl = self.ranked_ttl;
        let slot = {
            let mut all = lock(&self.ranked);
            // Boards nobody asked for in a while are dropped.
            all.retain(|_, slot| {
                lock(&slot.value)
                    .as_ref()
                    .is_none_or(|(at, _)| at.elapsed() < ttl * 60 + Duration::from_secs(60))
            });
            all.entry((reach, period)).or_default().clone()
        };
        let current = |slot: &RankedSlot| lock(&slot.value).clone();
        if let Some((at, ranked)) = current(&slot) {
            if at.elapsed() < ttl {
                return Ok(ranked);
            }
        }
        let _refreshing = match slot.refresh.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                if let Some((_, ranked)) = current(&slot) {
                    return Ok(ranked);
                }
                let guard = slot.refresh.lock().await;
                if let Some((at, ranked)) = current(&slot) {
                    if at.elapsed() < ttl {
                        return Ok(ranked);
                    }
                }
                guard
            }
        };
        let as_of = Utc::now();
        let board = boards::ranked_all(conn, reach, period).await?;
        let first: Vec<Uuid> = board.iter().take(NAMED).map(|s| s.user_id).collect();
        let names = boards::names(conn, &first).await?;
        let ranked = Ranked::new(board, as_of, names);
        *lock(&slot.value) = Some((Instant::now(), ranked.clone()));
        let (kind, zone_org, zone) = how;
        lock(&self.current).insert((reach, kind, zone_org), (zone, period));
        Ok(ranked)
    }

    /// Opens a watch: RESOURCE_EXHAUSTED beyond the configured watchers.
    pub fn watch(
        &self,
        state: &AppState,
        ctx: AuthContext,
        req: pb::WatchLeaderboardRequest,
    ) -> Result<Updates, ApiError> {
        let page = crate::proto::common::v1::PageRequest {
            page_size: req.top,
            page_token: String::new(),
        };
        let board = leaderboard::check(
            &ctx,
            req.period,
            req.scope,
            &req.course_id,
            &req.organization_id,
            Some(&page),
        )
        .map_err(|e| match e {
            ApiError::InvalidArgument(v) => ApiError::InvalidArgument(
                v.into_iter()
                    .map(|mut f| {
                        if f.field == "page.page_size" {
                            f.field = "top".into();
                        }
                        f
                    })
                    .collect(),
            ),
            other => other,
        })?;
        let caller = caller_user(&ctx.principal)
            .ok_or_else(|| ApiError::PermissionDenied("boards are for people's tokens".into()))?;
        let slot = self.slots.clone().try_acquire_owned().map_err(|_| {
            ApiError::ResourceExhausted("too many leaderboard watchers; retry later".into())
        })?;
        let key = Key {
            org: ctx.org_id().unwrap_or_default(),
            scope: board.scope,
            period: board.period,
            top: board.limit,
        };
        let (mut snapshots, watchers) = self.join(state, &ctx, key, board, caller);
        let stream = async_stream(move |tx| async move {
            let _slot = slot;
            let _leave = Leave { watchers, caller };
            let mut last: Option<pb::WatchLeaderboardResponse> = None;
            loop {
                let snapshot = snapshots.borrow_and_update().clone();
                // A snapshot taken before this watcher joined lacks its rank.
                if let Some(snapshot) = snapshot.filter(|s| s.watchers.contains(&caller)) {
                    let view = snapshot.view(caller);
                    let changed = last.as_ref().is_none_or(|l| {
                        l.entries != view.entries
                            || l.own != view.own
                            || l.ranked_users != view.ranked_users
                    });
                    if changed {
                        if tx.send(Ok(view.clone())).await.is_err() {
                            return;
                        }
                        last = Some(view);
                    }
                }
                tokio::select! {
                    // The client went away: leave the board.
                    _ = tx.closed() => return,
                    changed = snapshots.changed() => if changed.is_err() {
                        let _ = tx
                            .send(Err(Status::unavailable("the board could not be computed; retry")))
                            .await;
                        return;
                    }
                }
            }
        });
        Ok(stream)
    }

    /// Joins the board's watchers, starting its task if it has none.
    fn join(
        &self,
        state: &AppState,
        ctx: &AuthContext,
        key: Key,
        board: BoardRequest,
        caller: Uuid,
    ) -> (Snapshots, Watchers) {
        let mut boards = self.boards.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(shared) = boards.get(&key) {
            *lock(&shared.watchers).entry(caller).or_default() += 1;
            shared.wake.notify_one();
            return (shared.snapshots.clone(), shared.watchers.clone());
        }
        let (tx, rx) = watch::channel(None);
        let watchers = Arc::new(Mutex::new(HashMap::from([(caller, 1)])));
        let wake = Arc::new(Notify::new());
        boards.insert(
            key,
            Shared {
                snapshots: rx.clone(),
                watchers: watchers.clone(),
                wake: wake.clone(),
            },
        );
        let task = Round {
            state: state.clone(),
            ctx: ctx.clone(),
            board,
            watchers: watchers.clone(),
            interval: self.interval,
            boards: self.boards.clone(),
            key,
            wake,
        };
        tokio::spawn(task.run(tx));
        (rx, watchers)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Leaves the board's watcher list when the stream ends.
struct Leave {
    watchers: Watchers,
    caller: Uuid,
}

impl Drop for Leave {
    fn drop(&mut self) {
        let mut w = lock(&self.watchers);
        if let Some(n) = w.get_mut(&self.caller) {
            *n -= 1;
            if *n == 0 {
                w.remove(&self.caller);
            }
        }
    }
}

/// The task computing one board while it has watchers.
struct Round {
    state: AppState,
    ctx: AuthContext,
    board: BoardRequest,
    watchers: Watchers,
    interval: Duration,
    boards: Arc<Mutex<HashMap<Key, Shared>>>,
    key: Key,
    wake: Arc<Notify>,
}

impl Round {
    async fn run(self, tx: watch::Sender<Option<Arc<Snapshot>>>) {
        let mut failures = 0u32;
        loop {
            let mut ids: Vec<Uuid> = lock(&self.watchers).keys().copied().collect();
            ids.sort_unstable();
            if ids.is_empty() || tx.receiver_count() <= 1 {
                // Only the hub's own receiver is left: nobody watches.
                let mut boards = lock(&self.boards);
                if lock(&self.watchers).is_empty() {
                    boards.remove(&self.key);
                    return;
                }
            }
            let (board, org) = (self.board, self.key.org);
            let result = self
                .state
                .read_tx(&self.ctx, move |conn| {
                    Box::pin(async move { leaderboard::snapshot(conn, org, board, &ids).await })
                })
                .await;
            match result {
                Ok(snapshot) => {
                    failures = 0;
                    let changed = tx.borrow().as_deref().is_none_or(|old| {
                        old.entries != snapshot.entries
                            || old.points != snapshot.points
                            || old.own != snapshot.own
                            || old.watchers != snapshot.watchers
                    });
                    if changed {
                        tx.send_replace(Some(Arc::new(snapshot)));
                    }
                }
                Err(err) => {
                    failures += 1;
                    tracing::warn!(error = %err, failures, "leaderboard watch round failed");
                    if failures >= 5 {
                        // Watchers see UNAVAILABLE and may reconnect.
                        lock(&self.boards).remove(&self.key);
                        return;
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {}
                _ = self.wake.notified() => {}
            }
        }
    }
}

/// A stream fed by a task through a bounded channel (one update in flight
/// per watcher: a slow reader is not buffered for).
fn async_stream<F, Fut>(f: F) -> Updates
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<pb::WatchLeaderboardResponse, Status>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(f(tx));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}
