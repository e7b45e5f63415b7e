//! WatchLeaderboard: one computation per board and interval, shared by
//! every watcher of that board. A board's task runs while it has watchers:
//! each round it reads the whole board in board order (a live board through
//! its snapshot, renewing it for GetLeaderboard too, with the names of its
//! first 50; a course board with the names of its top N) and the watchers'
//! own points, all in one transaction, and publishes
//! what it read; each watcher derives its own rank by binary search and is
//! sent an update only when what it sees changed.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use futures::Stream;
use tokio::sync::{Notify, Semaphore, watch};
use tonic::Status;
use uuid::Uuid;

use super::board::{
    self, BoardRequest, Own, Scope, course_from, entries_from, entries_of, live_reach, own_rank_on,
};
use super::mapping;
use super::snapshots::BoardSnapshots;
use crate::api::{ApiError, AppState, caller_user};
use crate::auth::AuthContext;
use crate::config::Limits;
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

/// A board's rounds as published.
type Published = watch::Receiver<Option<Arc<Snapshot>>>;
/// A board's watchers: person -> open streams.
type Watchers = Arc<Mutex<HashMap<Uuid, usize>>>;

struct Shared {
    published: Published,
    watchers: Watchers,
    /// Wakes the round early for a new watcher's first answer.
    wake: Arc<Notify>,
}

/// The boards being watched and the bound on watchers. Rounds of live
/// boards read them through the boards' snapshots, which GetLeaderboard
/// then ranks against too.
#[derive(Clone)]
pub struct Watches {
    boards: Arc<Mutex<HashMap<Key, Shared>>>,
    interval: Duration,
    slots: Arc<Semaphore>,
    snapshots: BoardSnapshots,
}

pub type Updates = Pin<Box<dyn Stream<Item = Result<pb::WatchLeaderboardResponse, Status>> + Send>>;

impl Watches {
    pub fn new(limits: &Limits, snapshots: BoardSnapshots) -> Self {
        Self {
            boards: Arc::default(),
            interval: Duration::from_millis(limits.board_watch_interval_ms),
            slots: Arc::new(Semaphore::new(limits.max_board_watchers)),
            snapshots,
        }
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
        let board = board::check(
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
        let (mut published, watchers) = self.join(state, &ctx, key, board, caller);
        let stream = async_stream(move |tx| async move {
            let _slot = slot;
            let _leave = Leave { watchers, caller };
            let mut last: Option<pb::WatchLeaderboardResponse> = None;
            loop {
                let snapshot = published.borrow_and_update().clone();
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
                    changed = published.changed() => if changed.is_err() {
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
    ) -> (Published, Watchers) {
        let mut boards = self.boards.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(shared) = boards.get(&key) {
            *lock(&shared.watchers).entry(caller).or_default() += 1;
            shared.wake.notify_one();
            return (shared.published.clone(), shared.watchers.clone());
        }
        let (tx, rx) = watch::channel(None);
        let watchers = Arc::new(Mutex::new(HashMap::from([(caller, 1)])));
        let wake = Arc::new(Notify::new());
        boards.insert(
            key,
            Shared {
                published: rx.clone(),
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
            snapshots: self.snapshots.clone(),
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
    snapshots: BoardSnapshots,
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
            let snapshots = self.snapshots.clone();
            let result = self
                .state
                .read_tx(&self.ctx, move |conn| {
                    Box::pin(async move { snapshot(conn, &snapshots, org, board, &ids).await })
                })
                .await;
            match result {
                Ok(snapshot) => {
                    failures = 0;
                    let changed = tx
                        .borrow()
                        .as_deref()
                        .is_none_or(|old| old.differs(&snapshot));
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

/// One round's reading of a board for all its watchers: the top entries
/// (no caller marked), the whole board in board order and the watchers'
/// own points and board presence.
#[derive(Debug, Clone)]
struct Snapshot {
    entries: Vec<pb::LeaderboardEntry>,
    /// The person of each entry (entries show ids of public people only).
    ids: Vec<Uuid>,
    board: Arc<Vec<Standing>>,
    own: Own,
    /// The watchers whose own standing was read.
    watchers: Vec<Uuid>,
    as_of: DateTime<Utc>,
}

/// Reads the board of `req` for `watchers`: a live board through its
/// snapshot (read now, and left for GetLeaderboard), a course board from
/// the ledger.
async fn snapshot(
    conn: &mut AsyncPgConnection,
    snapshots: &BoardSnapshots,
    caller_org: Uuid,
    req: BoardRequest,
    watchers: &[Uuid],
) -> Result<Snapshot, ApiError> {
    let as_of = Utc::now();
    let (period, zone, _) = board::resolve(conn, &req, caller_org, as_of).await?;
    let top = req.limit as usize;
    let (board, entries, own, as_of) = match req.scope {
        Scope::Course(course) => {
            let from = course_from(period, zone);
            let (ranked, own) = board::course_board(conn, course, from, watchers).await?;
            let first = &ranked[..top.min(ranked.len())];
            let entries = entries_of(conn, first, 1, 0, None).await?;
            (Arc::new(ranked), entries, own, as_of)
        }
        Scope::Organization(_) | Scope::Platform => {
            let (reach, zone_org) = live_reach(req.scope, caller_org)
                .ok_or_else(|| ApiError::Internal("a live board without a reach".into()))?;
            let how = (req.period, zone_org, zone);
            let ranked = snapshots.read(conn, reach, period, how).await?;
            let own = board::live_own(conn, &ranked, period, watchers).await?;
            // A snapshot names its first NAMED people, at least `top`.
            let first = &ranked.board[..top.min(ranked.board.len())];
            let entries = entries_from(first, &ranked.names, 1, 0, None);
            (ranked.board.clone(), entries, own, ranked.as_of)
        }
    };
    Ok(Snapshot {
        ids: board.iter().take(top).map(|s| s.user_id).collect(),
        entries,
        board,
        own,
        watchers: watchers.to_vec(),
        as_of,
    })
}

impl Snapshot {
    /// Whether watchers may see something else in `new` than in `self`.
    fn differs(&self, new: &Snapshot) -> bool {
        let same_points = || {
            let points = |s: &Standing| s.points;
            Arc::ptr_eq(&self.board, &new.board)
                || self
                    .board
                    .iter()
                    .map(points)
                    .eq(new.board.iter().map(points))
        };
        self.entries != new.entries
            || !same_points()
            || self.own != new.own
            || self.watchers != new.watchers
    }

    /// What one watcher sees: their entry marked and their own rank.
    fn view(&self, caller: Uuid) -> pb::WatchLeaderboardResponse {
        let own = self.own.get(&caller).copied().unwrap_or((0, false));
        let entries = self
            .entries
            .iter()
            .zip(&self.ids)
            .map(|(e, id)| {
                let mut e = e.clone();
                if *id == caller {
                    e.is_caller = true;
                    e.user_id = caller.to_string();
                }
                e
            })
            .collect();
        pb::WatchLeaderboardResponse {
            entries,
            own: Some(own_rank_on(&self.board, own)),
            ranked_users: u32::try_from(self.board.len()).unwrap_or(u32::MAX),
            as_of: Some(mapping::timestamp(self.as_of)),
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
