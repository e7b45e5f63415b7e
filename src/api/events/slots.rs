//! PublishEvents stream slots: a server-wide limit and a share per caller,
//! so that one producer pool (stuck, leaking streams, or just large)
//! cannot lock the others out. A refusal is RESOURCE_EXHAUSTED with gRPC's
//! retry hint (`grpc-retry-pushback-ms`, and `google.rpc.RetryInfo` in the
//! details) and names the setting that was reached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use uuid::Uuid;

use crate::auth::Principal;

/// How long a refused producer is asked to wait before it tries again.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Who a share belongs to: a service identity within its organization, or
/// a person.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    Service { name: String, org_id: Option<Uuid> },
    User(Uuid),
}

impl From<&Principal> for Caller {
    fn from(principal: &Principal) -> Self {
        match principal {
            Principal::Service { name, org_id, .. } => Caller::Service {
                name: name.clone(),
                org_id: *org_id,
            },
            Principal::User { user_id, .. } => Caller::User(*user_id),
        }
    }
}

/// Open streams, in all and per caller.
#[derive(Debug, Default)]
struct Held {
    total: usize,
    by_caller: HashMap<Caller, usize>,
}

#[derive(Clone)]
pub struct StreamSlots {
    held: Arc<Mutex<Held>>,
    max_total: usize,
    max_per_caller: usize,
}

/// An open stream's slot, given back when dropped.
pub struct Slot {
    held: Arc<Mutex<Held>>,
    caller: Caller,
}

impl StreamSlots {
    pub fn new(max_total: usize, max_per_caller: usize) -> Self {
        Self {
            held: Default::default(),
            max_total,
            max_per_caller: max_per_caller.min(max_total),
        }
    }

    /// A slot for `caller`, or the refusal to answer.
    pub fn take(&self, caller: Caller) -> Result<Slot, Status> {
        let mut held = lock(&self.held);
        if held.total >= self.max_total {
            return Err(refusal(format!(
                "the server is at its limit of {} concurrent event streams \
                 (STRIDE_MAX_EVENT_STREAMS); retry in {} s",
                self.max_total,
                RETRY_AFTER.as_secs()
            )));
        }
        let mine = held.by_caller.get(&caller).copied().unwrap_or(0);
        if mine >= self.max_per_caller {
            return Err(refusal(format!(
                "this caller already has its share of {} concurrent event streams open \
                 (STRIDE_MAX_EVENT_STREAMS_PER_CALLER); send more per stream, close idle \
                 ones, or retry in {} s",
                self.max_per_caller,
                RETRY_AFTER.as_secs()
            )));
        }
        held.total += 1;
        *held.by_caller.entry(caller.clone()).or_default() += 1;
        Ok(Slot {
            held: self.held.clone(),
            caller,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = lock(&self.held);
        held.total -= 1;
        if let Some(mine) = held.by_caller.get_mut(&self.caller) {
            *mine -= 1;
            if *mine == 0 {
                held.by_caller.remove(&self.caller);
            }
        }
    }
}

/// The counts stay consistent even if a holder panicked.
fn lock(held: &Mutex<Held>) -> std::sync::MutexGuard<'_, Held> {
    held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// RESOURCE_EXHAUSTED with the retry hint gRPC clients know.
fn refusal(message: String) -> Status {
    let mut status = Status::with_error_details(
        Code::ResourceExhausted,
        message,
        ErrorDetails::with_retry_info(Some(RETRY_AFTER)),
    );
    if let Ok(value) = RETRY_AFTER.as_millis().to_string().parse() {
        status
            .metadata_mut()
            .insert("grpc-retry-pushback-ms", value);
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str) -> Caller {
        Caller::Service {
            name: name.into(),
            org_id: Some(Uuid::nil()),
        }
    }

    #[test]
    fn one_caller_cannot_take_more_than_its_share() {
        let slots = StreamSlots::new(10, 3);
        let mine: Vec<_> = (0..3)
            .map(|_| slots.take(service("lms")).unwrap())
            .collect();
        let refused = slots.take(service("lms")).err().expect("over the share");
        assert_eq!(refused.code(), Code::ResourceExhausted);
        assert!(
            refused
                .message()
                .contains("STRIDE_MAX_EVENT_STREAMS_PER_CALLER")
        );
        // Another caller still gets one.
        let other = slots.take(service("quiz")).expect("another caller's share");
        drop(mine);
        drop(other);
        assert!(slots.take(service("lms")).is_ok(), "slots come back");
    }

    #[test]
    fn the_server_limit_holds_across_callers_and_slots_come_back() {
        let slots = StreamSlots::new(4, 4);
        let held: Vec<_> = (0..4)
            .map(|n| slots.take(service(&format!("svc{n}"))).unwrap())
            .collect();
        let refused = slots.take(service("late")).err().expect("server full");
        assert!(refused.message().contains("STRIDE_MAX_EVENT_STREAMS)"));
        drop(held);
        assert_eq!(lock(&slots.held).total, 0);
        assert!(lock(&slots.held).by_caller.is_empty());
    }

    #[test]
    fn a_refusal_carries_the_retry_hint() {
        let slots = StreamSlots::new(0, 0);
        let refused = slots.take(Caller::User(Uuid::nil())).err().unwrap();
        assert_eq!(
            refused.metadata().get("grpc-retry-pushback-ms").unwrap(),
            "1000"
        );
        let retry = refused.get_details_retry_info().expect("RetryInfo");
        assert_eq!(retry.retry_delay, Some(RETRY_AFTER));
    }
}
