//! Event ingestion: batches of events applied in one transaction each, with
//! retries for transient conflicts, isolation of an event the database
//! refuses, and bounded memory per stream and per server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::result::Error as DieselError;
use futures::FutureExt;
use prost::Message;
use tokio::sync::mpsc;
use tonic::{Status, Streaming};
use uuid::Uuid;

use super::convert::validate;
use super::slots::{Caller, StreamSlots};
use crate::api::{ApiError, AppState};
use crate::auth::AuthContext;
use crate::config::Limits;
use crate::db::ingest::{self, Outcome};
use crate::db::pg_error::{self, PgError};
use crate::db::tenant::{Begin, DbIdentity, transaction};
use crate::db::{self, Lease};
use crate::domain::FieldViolation;
use crate::domain::events::ValidEvent;
use crate::linger;
use crate::proto::events::v1 as pb;

/// How many times a batch is retried after a deadlock or serialization
/// failure before the caller gets UNAVAILABLE.
const TRANSIENT_RETRIES: u32 = 3;

/// Ingestion limits, from [`Limits`].
#[derive(Clone)]
pub struct Ingestion {
    pub batch_size: usize,
    /// Workers of the unary group commit.
    pub workers: usize,
    streams: StreamSlots,
    /// A stream silent this long, with nothing pending, is closed.
    idle: Duration,
}

impl Ingestion {
    pub fn new(limits: &Limits) -> Self {
        Self {
            batch_size: limits.ingest_batch_size.clamp(1, 1000) as usize,
            workers: limits.ingest_workers.clamp(1, 64) as usize,
            streams: StreamSlots::new(
                limits.max_event_streams,
                limits.max_event_streams_per_caller,
            ),
            idle: limits.event_stream_idle(),
        }
    }
}

/// An event as received: validated, or refused with its violations.
pub type Checked = Result<ValidEvent, Vec<FieldViolation>>;

/// Validates a received event (its envelope may be missing) against the
/// server clock.
pub fn check(event: Option<&pb::Event>) -> Checked {
    match event {
        Some(event) => validate(event, Utc::now()),
        None => Err(vec![FieldViolation::new("event", "is required")]),
    }
}

/// How long a batch waits in all for a pooled connection while every one
/// is busy (the server's request deadline) before it fails
/// RESOURCE_EXHAUSTED.
const BUSY_WAIT_MAX: Duration = Duration::from_secs(30);

/// Why a batch transaction failed.
#[derive(Debug)]
enum Failure {
    /// No pooled connection came free within the pool's wait: the database
    /// is busy, not gone.
    Busy,
    /// Deadlock or serialization failure: the same batch may succeed again.
    Transient(String),
    /// The database cannot be reached: the caller should retry later.
    Unavailable(String),
    /// The statement ran past `statement_timeout`: the batch is rolled
    /// back whole.
    Timeout(String),
    /// A row broke a constraint the checks did not foresee; which event is
    /// found by applying the batch one event at a time.
    Refused(String),
    Internal(String),
}

impl From<DieselError> for Failure {
    fn from(err: DieselError) -> Self {
        let message = pg_error::detail(&err);
        let constraint = || {
            pg_error::info(&err)
                .and_then(|info| info.constraint_name())
                .unwrap_or("a constraint")
                .to_string()
        };
        match PgError::of(&err) {
            PgError::Retryable => Failure::Transient(message),
            PgError::Unavailable => Failure::Unavailable(message),
            PgError::Timeout => Failure::Timeout(message),
            PgError::UniqueViolation | PgError::ForeignKeyViolation | PgError::OtherConstraint => {
                Failure::Refused(constraint())
            }
            // U+0000 in a text the checks did not cover: the event holding
            // it is refused alone.
            PgError::NulInText => Failure::Refused("text without U+0000".into()),
            PgError::RowSecurity => Failure::Refused("row-level security".into()),
            PgError::NotFound | PgError::Other => Failure::Internal(err.to_string()),
        }
    }
}

impl From<Failure> for ApiError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Busy => ApiError::ResourceExhausted(db::POOL_BUSY.into()),
            Failure::Transient(detail) | Failure::Unavailable(detail) => {
                ApiError::Unavailable(detail)
            }
            Failure::Timeout(detail) => ApiError::DeadlineExceeded(detail),
            Failure::Refused(detail) | Failure::Internal(detail) => ApiError::Internal(detail),
        }
    }
}

/// Applies `events` as one transaction under the caller's identity;
/// retries transient failures; when the database refuses a row, applies
/// the events one per transaction so only the culprit is refused.
pub async fn apply(
    state: &AppState,
    ctx: &AuthContext,
    events: Vec<Checked>,
) -> Result<Vec<Outcome>, ApiError> {
    let outcomes = apply_isolating(state, ctx, events).await?;
    for outcome in &outcomes {
        state.metrics.event(match outcome {
            Outcome::Accepted(_) => "accepted",
            Outcome::Duplicate => "duplicate",
            Outcome::Conflict => "conflict",
            Outcome::Invalid(_) => "invalid",
        });
    }
    Ok(outcomes)
}

async fn apply_isolating(
    state: &AppState,
    ctx: &AuthContext,
    events: Vec<Checked>,
) -> Result<Vec<Outcome>, ApiError> {
    let identity = DbIdentity::from(&ctx.principal);
    let scope = ctx.org_id();
    let events = Arc::new(events);
    match apply_retrying(state, &identity, scope, events.clone()).await {
        Ok(outcomes) => Ok(outcomes),
        Err(Failure::Refused(constraint)) => {
            tracing::warn!(
                constraint,
                events = events.len(),
                "batch refused by the database; isolating the event"
            );
            let mut outcomes = Vec::with_capacity(events.len());
            for event in events.iter() {
                let single = Arc::new(vec![event.clone()]);
                match apply_retrying(state, &identity, scope, single).await {
                    Ok(mut one) => outcomes.push(one.remove(0)),
                    Err(Failure::Refused(constraint)) => outcomes.push(Outcome::Invalid(vec![FieldViolation::new(
                        "event",
                        format!("refused by a data rule of the database ({constraint}); nothing stored"),
                    )])),
                    Err(other) => return Err(other.into()),
                }
            }
            Ok(outcomes)
        }
        Err(other) => Err(other.into()),
    }
}

async fn apply_retrying(
    state: &AppState,
    identity: &DbIdentity,
    scope: Option<Uuid>,
    events: Arc<Vec<Checked>>,
) -> Result<Vec<Outcome>, Failure> {
    let mut attempt = 0;
    let queued = Instant::now();
    loop {
        let result = apply_once(state, identity, scope, events.clone()).await;
        match result {
            // Every connection is in use: wait for one (back-pressure on
            // the producer), not fail the batch, unless it takes too long.
            Err(Failure::Busy) if queued.elapsed() < BUSY_WAIT_MAX => {
                // The pool's own wait paces this, unless set to zero.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(Failure::Busy) => return Err(Failure::Busy),
            Err(Failure::Transient(detail)) if attempt < TRANSIENT_RETRIES => {
                attempt += 1;
                tracing::debug!(attempt, detail, "transient failure; retrying the batch");
                tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
            }
            other => return other,
        }
    }
}

async fn apply_once(
    state: &AppState,
    identity: &DbIdentity,
    scope: Option<Uuid>,
    events: Arc<Vec<Checked>>,
) -> Result<Vec<Outcome>, Failure> {
    let mut conn = Lease::get(&state.pool).await.map_err(|err| {
        if db::pool_busy(&err) {
            Failure::Busy
        } else {
            Failure::Unavailable(err.to_string())
        }
    })?;
    let applied = transaction(&mut conn, Begin::writing(identity), move |conn| {
        Box::pin(async move {
            ingest::apply_counted(conn, scope, &events)
                .await
                .map_err(Failure::from)
        })
    })
    .await;
    conn.finish();
    let (outcomes, streaks) = applied?;
    state.metrics.streaks(streaks);
    Ok(outcomes)
}

/// The wire form of an outcome.
pub fn result(index: u64, event_id: &str, outcome: Outcome) -> pb::EventResult {
    let paid = match &outcome {
        Outcome::Accepted(paid) => *paid,
        _ => Default::default(),
    };
    let (status, violations) = match outcome {
        Outcome::Accepted(_) => (pb::EventStatus::Accepted, Vec::new()),
        Outcome::Duplicate => (pb::EventStatus::Duplicate, Vec::new()),
        Outcome::Conflict => (pb::EventStatus::Conflict, Vec::new()),
        Outcome::Invalid(v) => (pb::EventStatus::Invalid, v),
    };
    pb::EventResult {
        index,
        event_id: event_id.to_string(),
        status: status as i32,
        violations: violations
            .into_iter()
            .map(|v| pb::FieldViolation {
                field: v.field,
                description: v.description,
            })
            .collect(),
        points_awarded: paid.awarded,
        points_capped: paid.capped,
    }
}

/// Opens a PublishEvents stream: refused with RESOURCE_EXHAUSTED when the
/// server, or this caller, already has its maximum of streams open.
///
/// The refusal is answered once the client has finished writing (at most
/// [`linger::LINGER`] later; what it sent is discarded): a client still
/// writing when the status arrives may report its failed write instead
/// (grpc-python's asyncio API: `INTERNAL: Internal error from Core`).
pub async fn open_stream(
    state: AppState,
    ingestion: &Ingestion,
    ctx: AuthContext,
    mut inbound: Streaming<pb::PublishEventsRequest>,
) -> Result<mpsc::Receiver<Result<pb::PublishEventsResponse, Status>>, Status> {
    let slot = match ingestion.streams.take(Caller::from(&ctx.principal)) {
        Ok(slot) => slot,
        Err(refusal) => {
            let drain = async {
                let mut bytes = 0;
                while let Ok(Some(message)) = inbound.message().await {
                    bytes += message.encoded_len();
                    if bytes > linger::LINGER_BYTES {
                        return;
                    }
                }
            };
            let _ = tokio::time::timeout(linger::LINGER, drain).await;
            return Err(refusal);
        }
    };
    // Results of one batch fit; a client that stops reading stops the
    // stream (we stop reading its events), bounding memory.
    let (tx, rx) = mpsc::channel(ingestion.batch_size);
    let batch_size = ingestion.batch_size;
    let idle = ingestion.idle;
    tokio::spawn(async move {
        run_stream(state, ctx, inbound, tx, batch_size, idle).await;
        drop(slot);
    });
    Ok(rx)
}

/// Reads the stream batch by batch: waits for one event, takes whatever
/// else has already arrived (up to `batch_size`), applies them in one
/// transaction, then acknowledges each. A broken stream drops the events
/// read but not yet applied (none of them was acknowledged).
async fn run_stream(
    state: AppState,
    ctx: AuthContext,
    mut inbound: Streaming<pb::PublishEventsRequest>,
    tx: mpsc::Sender<Result<pb::PublishEventsResponse, Status>>,
    batch_size: usize,
    idle: Duration,
) {
    let mut next_index: u64 = 0;
    loop {
        // Every result so far is sent: waiting here is the stream's idle time.
        let Ok(first) = tokio::time::timeout(idle, inbound.message()).await else {
            tracing::debug!(events = next_index, "event stream idle; closed");
            let _ = tx
                .send(Err(Status::unavailable(format!(
                    "the event stream sent nothing for {} s (STRIDE_EVENT_STREAM_IDLE_S) and \
                     was closed; every event acknowledged is stored: open a new stream to send more",
                    idle.as_secs()
                ))))
                .await;
            return;
        };
        let mut batch = match first {
            Ok(Some(first)) => vec![first],
            Ok(None) => return,
            Err(status) => {
                // A message that does not decode or is too large ends the
                // stream with its reason; a vanished client hears nothing.
                tracing::debug!(%status, "event stream broken by the client");
                let _ = tx.send(Err(crate::unreadable::translated(status))).await;
                return;
            }
        };
        let mut ended = false;
        while batch.len() < batch_size {
            match inbound.message().now_or_never() {
                Some(Ok(Some(message))) => batch.push(message),
                Some(Ok(None)) => {
                    ended = true;
                    break;
                }
                Some(Err(status)) => {
                    tracing::debug!(%status, unapplied = batch.len(), "event stream broken; unacknowledged events dropped");
                    let _ = tx.send(Err(crate::unreadable::translated(status))).await;
                    return;
                }
                None => break,
            }
        }
        let ids: Vec<String> = batch
            .iter()
            .map(|m| {
                m.event
                    .as_ref()
                    .map(|e| e.event_id.clone())
                    .unwrap_or_default()
            })
            .collect();
        let checked = batch.iter().map(|m| check(m.event.as_ref())).collect();
        state
            .metrics
            .group(crate::metrics::GroupPath::Stream, batch.len());
        match apply(&state, &ctx, checked).await {
            Ok(outcomes) => {
                for (event_id, outcome) in ids.iter().zip(outcomes) {
                    let response = pb::PublishEventsResponse {
                        result: Some(result(next_index, event_id, outcome)),
                    };
                    next_index += 1;
                    if tx.send(Ok(response)).await.is_err() {
                        return;
                    }
                }
            }
            Err(err) => {
                // Nothing of this batch was applied; the client resends
                // from its first unacknowledged event.
                let _ = tx.send(Err(Status::from(err))).await;
                return;
            }
        }
        if ended {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::DatabaseErrorKind;

    struct Info {
        message: &'static str,
        constraint: Option<&'static str>,
    }

    impl diesel::result::DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.message
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            self.constraint
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn db_error(
        kind: DatabaseErrorKind,
        message: &'static str,
        constraint: Option<&'static str>,
    ) -> Failure {
        Failure::from(DieselError::DatabaseError(
            kind,
            Box::new(Info {
                message,
                constraint,
            }),
        ))
    }

    #[test]
    fn deadlocks_and_serialization_failures_are_retried() {
        assert!(matches!(
            db_error(DatabaseErrorKind::Unknown, "deadlock detected", None),
            Failure::Transient(_)
        ));
        assert!(matches!(
            db_error(
                DatabaseErrorKind::SerializationFailure,
                "could not serialize",
                None
            ),
            Failure::Transient(_)
        ));
    }

    #[test]
    fn a_lost_database_is_unavailable_and_a_timeout_is_deadline_exceeded() {
        // What diesel-async makes of a socket that closed mid-batch.
        let lost = db_error(
            DatabaseErrorKind::UnableToSendCommand,
            "connection closed",
            None,
        );
        assert!(matches!(lost, Failure::Unavailable(_)), "{lost:?}");
        let slow = db_error(
            DatabaseErrorKind::Unknown,
            "canceling statement due to statement timeout",
            None,
        );
        let status = Status::from(ApiError::from(slow));
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
    }

    #[test]
    fn constraint_violations_name_the_constraint_for_isolation() {
        match db_error(
            DatabaseErrorKind::CheckViolation,
            "new row violates check constraint",
            Some("learning_events_local_date"),
        ) {
            Failure::Refused(name) => assert_eq!(name, "learning_events_local_date"),
            other => panic!("expected Refused, got {other:?}"),
        }
    }

    #[test]
    fn other_errors_are_internal_and_do_not_reach_the_caller() {
        let failure = db_error(DatabaseErrorKind::Unknown, "division by zero", None);
        assert!(matches!(failure, Failure::Internal(_)));
        let status = Status::from(ApiError::from(failure));
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(!status.message().contains("division"));
    }
}
