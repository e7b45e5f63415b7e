//! Read-only RPCs on a streaming replica (`DATABASE_READ_URL`), guarded by
//! its lag.
//!
//! A monitor samples the primary's WAL position and the replica's replay
//! position a few times a second. The replica serves reads only while it is
//! reachable and at most `max_lag` behind; otherwise reads go to the
//! primary, so an answer is never staler than the operator allowed, and a
//! replica that goes away costs no failed call once the monitor has seen it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::sql_types::{BigInt, Bool};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::PgPool;

/// The most samples kept while a replica is stuck (an hour at one a second):
/// beyond that the lag reads as "at least this old", which is far past any
/// sensible `max_lag` anyway.
const MAX_SAMPLES: usize = 3_600;

/// How long one probe of either server may take before it counts as failed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the primary's WAL stood, and when: the replica is at least
/// `now - at` behind while it has not replayed `lsn`.
#[derive(Debug, Default)]
pub struct LagWindow {
    samples: VecDeque<(Instant, u64)>,
}

impl LagWindow {
    /// Records the primary at `lsn` at `at`. A position already recorded
    /// keeps its first time (an idle primary's WAL does not move).
    pub fn primary_at(&mut self, at: Instant, lsn: u64) {
        if self.samples.back().is_some_and(|(_, last)| *last >= lsn) {
            return;
        }
        if self.samples.len() == MAX_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back((at, lsn));
    }

    /// The replica's lag at `now`, having replayed up to `replayed`: the age
    /// of the oldest primary position it has not reached (zero when it has
    /// reached them all).
    pub fn lag(&mut self, now: Instant, replayed: u64) -> Duration {
        while self
            .samples
            .front()
            .is_some_and(|(_, lsn)| *lsn <= replayed)
        {
            self.samples.pop_front();
        }
        match self.samples.front() {
            Some((at, _)) => now.saturating_duration_since(*at),
            None => Duration::ZERO,
        }
    }
}

/// What the monitor last found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplicaStatus {
    /// Whether reads go to the replica now.
    pub in_use: bool,
    /// Its lag, `None` while it cannot be reached.
    pub lag: Option<Duration>,
}

struct Replica {
    pool: PgPool,
    max_lag: Duration,
    /// Lag in milliseconds, rounded up; `u64::MAX` while unreachable (and
    /// before the first probe). Reads go to the replica while it is within
    /// `max_lag`: that is derived from this, not kept beside it.
    lag_ms: AtomicU64,
}

impl Replica {
    fn in_use(&self) -> bool {
        u128::from(self.lag_ms.load(Ordering::Relaxed)) <= self.max_lag.as_millis()
    }
}

/// Picks the pool a read-only transaction runs on.
pub struct ReadRouter {
    primary: PgPool,
    replica: Option<Replica>,
}

impl ReadRouter {
    /// No replica: every read on the primary.
    pub fn primary_only(primary: PgPool) -> Self {
        Self {
            primary,
            replica: None,
        }
    }

    /// Reads on `replica` while it is at most `max_lag` behind. Until the
    /// monitor's first probe succeeds, reads stay on the primary.
    pub fn with_replica(primary: PgPool, replica: PgPool, max_lag: Duration) -> Self {
        Self {
            primary,
            replica: Some(Replica {
                pool: replica,
                max_lag,
                lag_ms: AtomicU64::new(u64::MAX),
            }),
        }
    }

    /// The pool for the next read-only transaction.
    pub fn pool(&self) -> &PgPool {
        self.route().0
    }

    /// [`ReadRouter::pool`], and whether it is the primary's.
    pub fn route(&self) -> (&PgPool, bool) {
        match &self.replica {
            Some(r) if r.in_use() => (&r.pool, false),
            _ => (&self.primary, true),
        }
    }

    /// The replica's state, `None` when none is configured.
    pub fn status(&self) -> Option<ReplicaStatus> {
        let r = self.replica.as_ref()?;
        let lag = match r.lag_ms.load(Ordering::Relaxed) {
            u64::MAX => None,
            ms => Some(Duration::from_millis(ms)),
        };
        Some(ReplicaStatus {
            in_use: r.in_use(),
            lag,
        })
    }

    /// Keeps [`ReadRouter::pool`] honest; runs until aborted. Returns at
    /// once without a replica. The probes use connections of their own
    /// (`primary_url`, `replica_url`), so a busy request pool can neither
    /// hide the lag nor make a healthy replica look unreachable.
    pub async fn monitor(self: Arc<Self>, primary_url: String, replica_url: String) {
        let Some(replica) = &self.replica else { return };
        let every = (replica.max_lag / 4).clamp(Duration::from_millis(100), Duration::from_secs(1));
        let (mut primary, mut standby) = (Probe::new(primary_url), Probe::new(replica_url));
        let mut window = LagWindow::default();
        loop {
            // The primary first: a replica that has replayed this position
            // is caught up to this moment. While the primary cannot be
            // probed (it is down: nothing new commits), the replica is
            // judged by the positions already sampled.
            if let Some(lsn) = primary.lsn(PRIMARY_LSN).await {
                window.primary_at(Instant::now(), lsn);
            }
            let lag = standby
                .lsn(REPLICA_LSN)
                .await
                .map(|replayed| window.lag(Instant::now(), replayed));
            let was = replica.in_use();
            // Rounded up, so that the whole-millisecond comparison never
            // admits a replica further behind than `max_lag`.
            let ms = lag.map_or(u64::MAX, |l| {
                u64::try_from(l.as_micros().div_ceil(1000)).unwrap_or(u64::MAX - 1)
            });
            replica.lag_ms.store(ms, Ordering::Relaxed);
            let use_it = replica.in_use();
            if was != use_it {
                match lag {
                    Some(lag) if use_it => {
                        tracing::info!(lag_ms = lag.as_millis() as u64, "reads on the replica")
                    }
                    Some(lag) => tracing::warn!(
                        lag_ms = lag.as_millis() as u64,
                        max_lag_ms = replica.max_lag.as_millis() as u64,
                        "read replica lags too far behind: reads on the primary"
                    ),
                    None => tracing::warn!("read replica unreachable: reads on the primary"),
                }
            }
            tokio::time::sleep(every).await;
        }
    }
}

/// The primary's current WAL position, as a byte offset.
const PRIMARY_LSN: &str = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint AS lsn";

/// What the replica has replayed. A server that is not in recovery (the
/// primary itself, or a promoted replica) is as current as it gets.
const REPLICA_LSN: &str = "SELECT (CASE WHEN pg_is_in_recovery() \
     THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END - '0/0'::pg_lsn)::bigint AS lsn";

#[derive(diesel::QueryableByName)]
struct Lsn {
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    lsn: Option<i64>,
}

/// One server's probe connection, opened again after any failure.
struct Probe {
    url: String,
    conn: Option<AsyncPgConnection>,
}

impl Probe {
    fn new(url: String) -> Self {
        Self { url, conn: None }
    }

    async fn lsn(&mut self, sql: &'static str) -> Option<u64> {
        // Scoped: its `load` would shadow the atomics' above.
        use diesel_async::RunQueryDsl;
        let run = async {
            if self.conn.is_none() {
                self.conn = Some(AsyncPgConnection::establish(&self.url).await.ok()?);
            }
            let conn = self.conn.as_mut()?;
            let row: Lsn = diesel::sql_query(sql).get_result(conn).await.ok()?;
            row.lsn.map(|l| l as u64)
        };
        let found = tokio::time::timeout(PROBE_TIMEOUT, run)
            .await
            .ok()
            .flatten();
        if found.is_none() {
            self.conn = None;
        }
        found
    }
}

/// Whether the server at `url` is a standby (`None`: no answer within the
/// probe timeout); `stride serve` warns when `DATABASE_READ_URL` is not one.
pub async fn is_standby(url: &str) -> Option<bool> {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Standby {
        #[diesel(sql_type = Bool)]
        standby: bool,
    }
    let ask = async {
        let mut conn = AsyncPgConnection::establish(url).await.ok()?;
        let row: Standby = diesel::sql_query("SELECT pg_is_in_recovery() AS standby")
            .get_result(&mut conn)
            .await
            .ok()?;
        Some(row.standby)
    };
    tokio::time::timeout(PROBE_TIMEOUT, ask)
        .await
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn caught_up_replica_has_no_lag() {
        let t0 = Instant::now();
        let mut w = LagWindow::default();
        w.primary_at(t0, 100);
        w.primary_at(t0 + S, 200);
        assert_eq!(w.lag(t0 + 2 * S, 200), Duration::ZERO);
        assert_eq!(w.lag(t0 + 2 * S, 250), Duration::ZERO);
    }

    #[test]
    fn lag_is_the_age_of_the_oldest_position_not_replayed() {
        let t0 = Instant::now();
        let mut w = LagWindow::default();
        w.primary_at(t0, 100);
        w.primary_at(t0 + S, 200);
        w.primary_at(t0 + 2 * S, 300);
        // Replayed 100 of it: the position of t0 + 1 s is the oldest missing.
        assert_eq!(w.lag(t0 + 5 * S, 100), 4 * S);
        // Then 250: t0 + 2 s is.
        assert_eq!(w.lag(t0 + 5 * S, 250), 3 * S);
    }

    #[test]
    fn an_idle_primary_keeps_the_first_time_of_its_position() {
        let t0 = Instant::now();
        let mut w = LagWindow::default();
        w.primary_at(t0, 100);
        w.primary_at(t0 + S, 100);
        w.primary_at(t0 + 2 * S, 100);
        // A stuck replica is behind since the primary first stood there.
        assert_eq!(w.lag(t0 + 3 * S, 50), 3 * S);
    }

    #[test]
    fn a_stuck_replica_keeps_a_bounded_window() {
        let t0 = Instant::now();
        let mut w = LagWindow::default();
        for i in 0..(MAX_SAMPLES as u64 + 10) {
            w.primary_at(t0 + Duration::from_millis(i), 1 + i);
        }
        assert_eq!(w.samples.len(), MAX_SAMPLES);
        // The oldest kept sample is 10 ms after t0.
        let now = t0 + Duration::from_secs(10);
        assert_eq!(w.lag(now, 0), now - (t0 + Duration::from_millis(10)));
    }
}
