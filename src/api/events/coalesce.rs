//! Group commit for unary PublishEvent: calls that arrive while others are
//! being applied wait in one queue, and a few workers apply what has
//! gathered as one transaction per caller identity. One event per
//! transaction costs ~30 planned statements; a group of N shares them.
//!
//! Each call still gets its own outcome (a refused event is isolated by
//! [`ingest::apply`], a failed transaction fails only its group). A call
//! given up by its client (deadline, cancellation) may still be applied
//! with its group: receipts make the client's retry a duplicate, so
//! nothing is applied twice; one given up while it still waits is not
//! applied at all. A lone call waits for nothing: a worker that
//! is idle takes it at once.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{Mutex, mpsc, oneshot};
use tonic::Status;
use uuid::Uuid;

use super::ingest::{self, Checked};
use crate::api::AppState;
use crate::auth::AuthContext;
use crate::db::ingest::Outcome;
use crate::db::tenant::DbIdentity;

/// How many calls may wait for a worker before new ones wait to queue.
const QUEUE: usize = 4096;

/// One waiting call.
struct Pending {
    ctx: AuthContext,
    event: Checked,
    reply: oneshot::Sender<Result<Outcome, Status>>,
}

/// The queue of unary events and its workers.
#[derive(Clone)]
pub struct Coalescer {
    queue: mpsc::Sender<Pending>,
}

impl Coalescer {
    /// Starts `workers` workers, each applying up to `max_group` events
    /// per transaction.
    pub fn start(state: AppState, workers: usize, max_group: usize) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..workers.max(1) {
            tokio::spawn(work(state.clone(), rx.clone(), max_group.max(1)));
        }
        Self { queue }
    }

    /// Applies one event with whatever else is waiting; returns its outcome.
    pub async fn apply(&self, ctx: AuthContext, event: Checked) -> Result<Outcome, Status> {
        let (reply, outcome) = oneshot::channel();
        let stopped = || Status::unavailable("the server is shutting down; retry");
        self.queue
            .send(Pending { ctx, event, reply })
            .await
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

/// A worker: takes the first waiting call (waiting for one if none), then
/// every other already waiting, up to `max_group`; applies them grouped by
/// caller identity.
async fn work(state: AppState, rx: Arc<Mutex<mpsc::Receiver<Pending>>>, max_group: usize) {
    loop {
        let taken = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            let mut taken = vec![first];
            while taken.len() < max_group {
                match rx.try_recv() {
                    Ok(next) => taken.push(next),
                    Err(_) => break,
                }
            }
            taken
        };
        for group in by_identity(taken) {
            apply_group(&state, group).await;
        }
    }
}

/// Who a transaction runs as: calls share one only when this is equal.
type GroupKey = (DbIdentity, Option<Uuid>);

fn by_identity(taken: Vec<Pending>) -> Vec<Vec<Pending>> {
    let mut order: Vec<GroupKey> = Vec::new();
    let mut groups: HashMap<GroupKey, Vec<Pending>> = HashMap::new();
    for pending in taken {
        let key = (
            DbIdentity::from(&pending.ctx.principal),
            pending.ctx.org_id(),
        );
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(pending);
    }
    order
        .into_iter()
        .filter_map(|key| groups.remove(&key))
        .collect()
}

async fn apply_group(state: &AppState, group: Vec<Pending>) {
    // A caller that gave up while its call waited (deadline, cancellation)
    // heard an error: its event is not applied, so the error holds.
    let group: Vec<Pending> = group.into_iter().filter(|p| !p.reply.is_closed()).collect();
    let Some(first) = group.first() else {
        return;
    };
    let ctx = first.ctx.clone();
    let (events, replies): (Vec<Checked>, Vec<_>) =
        group.into_iter().map(|p| (p.event, p.reply)).unzip();
    match ingest::apply(state, &ctx, events).await {
        Ok(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                // A caller that gave up has dropped its receiver.
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(err) => {
            // Converted once, so its detail is logged once.
            let status = Status::from(err);
            for reply in replies {
                let _ = reply.send(Err(status.clone()));
            }
        }
    }
}
