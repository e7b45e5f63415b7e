//! Group commit for unary PublishEvent: calls wait in one queue per caller
//! identity, and a few workers each take *everything* waiting for one
//! identity (up to the batch size) as one transaction. An identity has at
//! most [`IN_FLIGHT_PER_IDENTITY`] transactions at a time: while they
//! commit, its next calls gather, so 16 producers of one service make
//! groups of about 16/`IN_FLIGHT_PER_IDENTITY`, not of one (which is what
//! four workers racing for each call made). Other identities use the other
//! workers meanwhile.
//!
//! Each call still gets its own outcome (a refused event is isolated by
//! [`ingest::apply`], a failed transaction fails only its group). A call
//! given up by its client (deadline, cancellation) may still be applied
//! with its group: receipts make the client's retry a duplicate, so
//! nothing is applied twice; one given up while it still waits is not
//! applied at all. A lone call waits for nothing: an idle worker takes it
//! at once. Calls of a busy identity wait at most [`HOLD`] for their group
//! to fill to its share of the identity's producers.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::time::Instant;
use tonic::Status;
use uuid::Uuid;

use super::ingest::{self, Checked};
use crate::api::AppState;
use crate::auth::AuthContext;
use crate::db::ingest::Outcome;
use crate::db::tenant::DbIdentity;
use crate::metrics::GroupPath;

/// How many calls may wait in all before new ones wait to queue.
const QUEUE: usize = 4096;

/// Transactions one identity may have at once. Two: one commits (its WAL
/// flush) while the next computes, and groups stay about half the
/// identity's waiting calls. Measured in docs/benchmarks.md.
pub const IN_FLIGHT_PER_IDENTITY: usize = 2;

/// The longest a call waits for its group to fill: past it, whatever
/// waits is taken. A group counts as full at its share of the calls its
/// identity had outstanding when its last group was taken, so a lone
/// producer never waits, and 16 producers do not split into a group of
/// the first call back and one of the fifteen after it.
pub const HOLD: Duration = Duration::from_millis(2);

/// Most identities whose estimate of producers is kept while they have
/// nothing waiting or in flight.
const IDLE_KEPT: usize = 1024;

/// One waiting call.
struct Pending {
    ctx: AuthContext,
    event: Checked,
    reply: oneshot::Sender<Result<Outcome, Status>>,
    /// Its place in the bounded queue of waiting calls, freed when its
    /// group is taken apart for the transaction (not when answered).
    _room: OwnedSemaphorePermit,
}

/// Who a transaction runs as: calls share one only when this is equal.
type GroupKey = (DbIdentity, Option<Uuid>);

/// The calls of one identity that wait (each with when it arrived), and
/// its transactions in flight.
struct Waiting<T> {
    calls: VecDeque<(Instant, T)>,
    in_flight: usize,
    /// Calls in the transactions in flight.
    in_flight_calls: usize,
    /// Calls waiting or in flight when the last group was taken: about
    /// how many producers the identity has.
    outstanding: usize,
}

impl<T> Default for Waiting<T> {
    fn default() -> Self {
        Waiting {
            calls: VecDeque::new(),
            in_flight: 0,
            in_flight_calls: 0,
            outstanding: 0,
        }
    }
}

impl<T> Waiting<T> {
    /// When its next group may start: now if it is full, else once its
    /// oldest call has waited [`HOLD`]; `None` while it may not start one.
    fn ready_at(&self, max_group: usize) -> Option<Instant> {
        let (arrived, _) = self.calls.front()?;
        if self.in_flight >= IN_FLIGHT_PER_IDENTITY {
            return None;
        }
        let share = self
            .outstanding
            .div_ceil(IN_FLIGHT_PER_IDENTITY)
            .min(max_group);
        if self.calls.len() >= share {
            return Some(*arrived);
        }
        Some(*arrived + HOLD)
    }
}

/// Every identity's queue (`K` an identity, `T` a call), and the order
/// identities are served in.
struct Queues<K, T> {
    by_key: HashMap<K, Waiting<T>>,
    /// Identities with calls waiting, oldest first.
    turn: VecDeque<K>,
    closed: bool,
}

impl<K, T> Default for Queues<K, T> {
    fn default() -> Self {
        Queues {
            by_key: HashMap::new(),
            turn: VecDeque::new(),
            closed: false,
        }
    }
}

impl<K: Clone + Eq + std::hash::Hash, T> Queues<K, T> {
    fn push(&mut self, key: K, pending: T, now: Instant) {
        let waiting = self.by_key.entry(key.clone()).or_default();
        if waiting.calls.is_empty() {
            self.turn.push_back(key);
        }
        waiting.calls.push_back((now, pending));
    }

    /// Takes everything waiting (up to `max_group`) for the first identity
    /// in turn whose group may start at `now`; else says when the next one
    /// may (`Err(None)`: none is waiting that may start).
    fn take(&mut self, max_group: usize, now: Instant) -> Result<(K, Vec<T>), Option<Instant>> {
        let mut next: Option<Instant> = None;
        let mut at = None;
        for (i, key) in self.turn.iter().enumerate() {
            let Some(ready) = self.by_key.get(key).and_then(|w| w.ready_at(max_group)) else {
                continue;
            };
            if ready <= now {
                at = Some(i);
                break;
            }
            next = Some(next.map_or(ready, |n| n.min(ready)));
        }
        let Some(key) = at.and_then(|at| self.turn.remove(at)) else {
            return Err(next);
        };
        let Some(waiting) = self.by_key.get_mut(&key) else {
            return Err(next);
        };
        waiting.outstanding = waiting.calls.len() + waiting.in_flight_calls;
        let n = waiting.calls.len().min(max_group);
        let group: Vec<T> = waiting.calls.drain(..n).map(|(_, call)| call).collect();
        waiting.in_flight += 1;
        waiting.in_flight_calls += n;
        if !waiting.calls.is_empty() {
            // More than a group waited: the rest goes to the back.
            self.turn.push_back(key.clone());
        }
        Ok((key, group))
    }

    /// A transaction of `key` holding `calls` calls finished. An identity
    /// left idle keeps its estimate of its producers only if it had more
    /// than one (their calls come back together), and only while few
    /// identities are idle.
    fn done(&mut self, key: &K, calls: usize) {
        let Some(waiting) = self.by_key.get_mut(key) else {
            return;
        };
        waiting.in_flight -= 1;
        waiting.in_flight_calls -= calls;
        let idle = waiting.in_flight == 0 && waiting.calls.is_empty();
        if idle && (waiting.outstanding <= 1 || self.by_key.len() > IDLE_KEPT) {
            self.by_key.remove(key);
        }
    }
}

struct Shared {
    queues: Mutex<Queues<GroupKey, Pending>>,
    /// Signalled when a call arrives or an identity's transaction ends.
    work: Notify,
    room: Arc<Semaphore>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queues<GroupKey, Pending>> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Stops the workers when the last handle goes.
struct Handle(Arc<Shared>);

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.work.notify_waiters();
    }
}

/// The queues of unary events and their workers.
#[derive(Clone)]
pub struct Coalescer {
    handle: Arc<Handle>,
}

impl Coalescer {
    /// Starts `workers` workers, each applying up to `max_group` events
    /// per transaction.
    pub fn start(state: AppState, workers: usize, max_group: usize) -> Self {
        let shared = Arc::new(Shared {
            queues: Mutex::new(Queues::default()),
            work: Notify::new(),
            room: Arc::new(Semaphore::new(QUEUE)),
        });
        for _ in 0..workers.max(1) {
            tokio::spawn(work(state.clone(), shared.clone(), max_group.max(1)));
        }
        Self {
            handle: Arc::new(Handle(shared)),
        }
    }

    /// Applies one event with whatever else its identity has waiting;
    /// returns its outcome.
    pub async fn apply(&self, ctx: AuthContext, event: Checked) -> Result<Outcome, Status> {
        let stopped = || Status::unavailable("the server is shutting down; retry");
        let shared = &self.handle.0;
        let room = shared
            .room
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| stopped())?;
        let (reply, outcome) = oneshot::channel();
        let key = (DbIdentity::from(&ctx.principal), ctx.org_id());
        {
            let mut queues = shared.lock();
            if queues.closed {
                return Err(stopped());
            }
            queues.push(
                key,
                Pending {
                    ctx,
                    event,
                    reply,
                    _room: room,
                },
                Instant::now(),
            );
        }
        shared.work.notify_one();
        outcome.await.map_err(|_| stopped())?
    }
}

/// A worker: takes a group as soon as one may start, applies it, and
/// tells the others its identity may start another.
async fn work(state: AppState, shared: Arc<Shared>, max_group: usize) {
    loop {
        let notified = shared.work.notified();
        tokio::pin!(notified);
        // Registered before looking, so a signal sent meanwhile is kept.
        notified.as_mut().enable();
        let taken = {
            let mut queues = shared.lock();
            if queues.closed {
                return;
            }
            queues.take(max_group, Instant::now())
        };
        let (key, group) = match taken {
            Ok(taken) => taken,
            Err(None) => {
                notified.await;
                continue;
            }
            Err(Some(ready)) => {
                // A group is filling: look again when its hold ends, or
                // sooner if a call arrives or a transaction ends.
                tokio::select! {
                    () = &mut notified => {}
                    () = tokio::time::sleep_until(ready) => {}
                }
                continue;
            }
        };
        // Another group may be ready too (another identity, or the rest of
        // this one's): pass the signal on.
        shared.work.notify_one();
        let calls = group.len();
        apply_group(&state, group).await;
        shared.lock().done(&key, calls);
        shared.work.notify_one();
    }
}

async fn apply_group(state: &AppState, group: Vec<Pending>) {
    // A caller that gave up while its call waited (deadline, cancellation)
    // heard an error: its event is not applied, so the error holds.
    let group: Vec<Pending> = group.into_iter().filter(|p| !p.reply.is_closed()).collect();
    let Some(first) = group.first() else {
        return;
    };
    let ctx = first.ctx.clone();
    state.metrics.group(GroupPath::Unary, group.len());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn queues(calls: &[(char, u32)], now: Instant) -> Queues<char, u32> {
        let mut q = Queues::default();
        for (key, call) in calls {
            q.push(*key, *call, now);
        }
        q
    }

    #[test]
    fn a_worker_takes_everything_its_identity_has_waiting() {
        let now = Instant::now();
        let mut q = queues(&[('a', 1), ('b', 10), ('a', 2), ('a', 3)], now);
        assert_eq!(q.take(500, now), Ok(('a', vec![1, 2, 3])));
        assert_eq!(q.take(500, now), Ok(('b', vec![10])));
        assert_eq!(q.take(500, now), Err(None));
    }

    #[test]
    fn an_identity_has_at_most_its_transactions_in_flight_while_its_next_group_gathers() {
        let now = Instant::now();
        let mut q = queues(&[], now);
        for n in 0..IN_FLIGHT_PER_IDENTITY as u32 {
            q.push('a', 100 + n, now);
            assert!(q.take(500, now).is_ok());
        }
        q.push('a', 7, now);
        q.push('a', 8, now);
        q.push('b', 9, now);
        // 'a' may not start another: 'b' goes first, 'a' keeps gathering.
        assert_eq!(q.take(500, now), Ok(('b', vec![9])));
        assert_eq!(q.take(500, now), Err(None));
        q.push('a', 10, now);
        q.done(&'a', 1);
        assert_eq!(q.take(500, now), Ok(('a', vec![7, 8, 10])));
    }

    #[test]
    fn a_group_fills_to_its_share_of_the_producers_or_until_the_hold_ends() {
        let now = Instant::now();
        // Sixteen calls outstanding: the group taken sets the share at 8.
        let mut q = queues(&[('a', 0); 16], now);
        assert_eq!(q.take(500, now).map(|(_, g)| g.len()), Ok(16));
        q.done(&'a', 16);
        // The first call back does not start a group of one...
        q.push('a', 1, now);
        assert_eq!(q.take(500, now), Err(Some(now + HOLD)));
        // ...its share does, at once.
        for call in 2..=8 {
            q.push('a', call, now);
        }
        assert_eq!(q.take(500, now).map(|(_, g)| g.len()), Ok(8));
        // Fewer than a share starts when the oldest has waited the hold.
        q.push('a', 9, now);
        assert_eq!(q.take(500, now), Err(Some(now + HOLD)));
        assert_eq!(q.take(500, now + HOLD), Ok(('a', vec![9])));
    }

    #[test]
    fn a_lone_producer_never_waits() {
        let now = Instant::now();
        let mut q = queues(&[('a', 1)], now);
        assert_eq!(q.take(500, now), Ok(('a', vec![1])));
        q.done(&'a', 1);
        q.push('a', 2, now);
        assert_eq!(q.take(500, now), Ok(('a', vec![2])));
    }

    #[test]
    fn a_group_is_at_most_the_batch_size_and_the_rest_waits_its_turn() {
        let now = Instant::now();
        let mut q = queues(&[('a', 1), ('a', 2), ('a', 3), ('b', 4)], now);
        assert_eq!(q.take(2, now), Ok(('a', vec![1, 2])));
        assert_eq!(q.take(2, now), Ok(('b', vec![4])));
        // 'a' had three outstanding: its one left waits out the hold.
        assert_eq!(q.take(2, now + HOLD), Ok(('a', vec![3])));
    }

    #[test]
    fn a_finished_lone_producer_leaves_no_state_behind() {
        let now = Instant::now();
        let mut q = queues(&[('a', 1)], now);
        assert!(q.take(500, now).is_ok());
        q.done(&'a', 1);
        assert!(q.by_key.is_empty() && q.turn.is_empty());
    }

    #[test]
    fn the_estimate_of_producers_follows_the_load_down() {
        let now = Instant::now();
        let mut q = queues(&[('a', 0); 16], now);
        assert!(q.take(500, now).is_ok());
        q.done(&'a', 16);
        // One producer left: one hold, then its calls go at once.
        q.push('a', 1, now);
        assert_eq!(q.take(500, now + HOLD), Ok(('a', vec![1])));
        q.done(&'a', 1);
        q.push('a', 2, now + HOLD);
        assert_eq!(q.take(500, now + HOLD), Ok(('a', vec![2])));
    }
}
