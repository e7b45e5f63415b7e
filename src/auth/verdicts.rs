//! Good token verdicts kept in memory for at most a second, so that a
//! caller's repeated calls cost the database no token check of their own.
//!
//! The bound is by construction: a verdict is dated by the moment its
//! check *started*, before the database read the state it judged, and is
//! trusted for `fresh_for` (at most 1 s) from then. A revocation,
//! deactivation or role change committed after that read is therefore
//! effective on every replica within `fresh_for` of its commit, with no
//! message that could be lost. On the replica that makes the change it is
//! effective at once: identity writes call [`Verdicts::forget_all`], which
//! also voids every check still in flight (its [`Ticket`] is of an older
//! generation). Refusals are never kept: a refused token is checked again.
//!
//! Checks made on a connection of their own are shared: a call whose key
//! has a check in flight, started under the current generation less than
//! `fresh_for` ago, waits for that check's verdict instead of running its
//! own ([`Verdicts::join`]). That is the same bound as a held verdict, and
//! it is what keeps a burst of streams opened with one token (a producer
//! reconnecting its 200 streams) from queueing 200 token checks for the
//! pool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use uuid::Uuid;

use super::context::TokenAssertion;

/// The longest a verdict may be trusted: the bound the service promises
/// for revocations made on another replica.
pub const MAX_FRESH: Duration = Duration::from_secs(1);

/// Most verdicts held; past it, expired ones are dropped, and if that is
/// not enough, all of them (the next calls check again).
const CAPACITY: usize = 65_536;

/// What a verdict is about: everything its check read from the token, so
/// that a token differing in any of it (another role, organization or
/// user under the same id) is checked on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VerdictKey {
    /// A person's token acting under one role.
    Person(TokenAssertion),
    /// A service token (only its id is checked: it acts under scopes).
    Service(Uuid),
}

/// A check about to run: hand it back with [`Verdicts::good`] if it found
/// the token good.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    key: VerdictKey,
    generation: u64,
    started: Instant,
}

#[derive(Default)]
struct State {
    /// Bumped by every local identity write.
    generation: u64,
    /// VerdictKey -> when the check that found it good started.
    good: HashMap<VerdictKey, Instant>,
    /// Checks on a connection of their own, running now, that calls of
    /// the same key may wait for.
    flights: HashMap<VerdictKey, Flight>,
    /// Names flights, so a leader settles only its own.
    flight_ids: u64,
}

/// A shared check in flight.
struct Flight {
    id: u64,
    started: Instant,
    /// `None` while running; then whether it found the token good.
    verdict: watch::Sender<Option<bool>>,
}

impl Flight {
    fn settle(self, good: bool) {
        self.verdict.send_replace(Some(good));
    }
}

/// What [`Verdicts::join`] asks a call to do.
pub enum Join {
    /// Run the check, and settle it for the calls waiting on it.
    Lead(Lead),
    /// Wait for the verdict of the check of the same key in flight.
    Follow(Follower),
}

/// The call running a shared check. Dropped unsettled (the call was cut
/// off, or the check failed), its followers run checks of their own.
pub struct Lead {
    verdicts: Arc<Verdicts>,
    ticket: Ticket,
    /// `None` when nobody may share this check (`fresh_for` is zero).
    flight: Option<u64>,
}

impl Lead {
    /// A check nobody waits for.
    pub fn alone(verdicts: &Arc<Verdicts>, ticket: Ticket) -> Self {
        Self {
            verdicts: verdicts.clone(),
            ticket,
            flight: None,
        }
    }

    /// The check found the token good: keep the verdict and tell the
    /// followers.
    pub fn good(mut self) {
        self.verdicts.good(self.ticket);
        self.settle(true);
    }

    fn settle(&mut self, good: bool) {
        let Some(id) = self.flight.take() else {
            return;
        };
        let mut state = self.verdicts.lock();
        // Gone already if an identity write settled it (as not good).
        if state
            .flights
            .get(&self.ticket.key)
            .is_some_and(|f| f.id == id)
        {
            let fresh = state.generation == self.ticket.generation;
            if let Some(flight) = state.flights.remove(&self.ticket.key) {
                flight.settle(good && fresh);
            }
        }
    }
}

impl Drop for Lead {
    fn drop(&mut self) {
        self.settle(false);
    }
}

/// A call waiting for another call's check of its key.
pub struct Follower(watch::Receiver<Option<bool>>);

impl Follower {
    /// Whether the check it waited for found the token good; `false`
    /// means this call must check for itself.
    pub async fn good(mut self) -> bool {
        matches!(
            self.0.wait_for(Option::is_some).await.as_deref(),
            Ok(Some(true))
        )
    }
}

/// See the module docs.
pub struct Verdicts {
    fresh_for: Duration,
    state: Mutex<State>,
}

impl Verdicts {
    /// Verdicts trusted for `fresh_for`, capped at [`MAX_FRESH`]; zero
    /// keeps none (every call checks the database).
    pub fn new(fresh_for: Duration) -> Self {
        Self {
            fresh_for: fresh_for.min(MAX_FRESH),
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Ok` when `key` was found good less than `fresh_for` ago, else
    /// the ticket for the check to run now.
    pub fn lookup(&self, key: VerdictKey, now: Instant) -> Result<(), Ticket> {
        let state = self.lock();
        match state.good.get(&key) {
            Some(started) if now.saturating_duration_since(*started) < self.fresh_for => Ok(()),
            _ => Err(Ticket {
                key,
                generation: state.generation,
                started: now,
            }),
        }
    }

    /// Keeps the good verdict of `ticket`'s check, unless an identity write
    /// happened here since the check started (it may not have seen it).
    pub fn good(&self, ticket: Ticket) {
        if self.fresh_for.is_zero() {
            return;
        }
        let mut state = self.lock();
        if state.generation != ticket.generation {
            return;
        }
        if state.good.len() >= CAPACITY && !state.good.contains_key(&ticket.key) {
            let fresh_for = self.fresh_for;
            state.good.retain(|_, started| {
                ticket.started.saturating_duration_since(*started) < fresh_for
            });
            if state.good.len() >= CAPACITY {
                state.good.clear();
            }
        }
        // A newer check's date wins over an older one's.
        let started = state.good.entry(ticket.key).or_insert(ticket.started);
        *started = (*started).max(ticket.started);
    }

    /// Joins the check of `ticket`'s key on a connection of its own that
    /// is in flight, or makes this call the one that runs it.
    pub fn join(self: &Arc<Self>, ticket: Ticket) -> Join {
        let lead = |flight| {
            Join::Lead(Lead {
                verdicts: self.clone(),
                ticket,
                flight,
            })
        };
        if self.fresh_for.is_zero() {
            return lead(None);
        }
        let mut state = self.lock();
        if ticket.generation != state.generation {
            // An identity write since this call's lookup: check unshared.
            return lead(None);
        }
        // A check running longer than the bound may not be shared: this
        // one replaces it, and later calls wait for this one.
        if let Some(flight) = state.flights.get(&ticket.key)
            && ticket.started.saturating_duration_since(flight.started) < self.fresh_for
        {
            return Join::Follow(Follower(flight.verdict.subscribe()));
        }
        state.flight_ids += 1;
        let id = state.flight_ids;
        let (verdict, _) = watch::channel(None);
        if let Some(stale) = state.flights.insert(
            ticket.key,
            Flight {
                id,
                started: ticket.started,
                verdict,
            },
        ) {
            stale.settle(false);
        }
        lead(Some(id))
    }

    /// Drops every verdict and voids the checks in flight: called after a
    /// write that may revoke, deactivate or take a role away. Calls
    /// waiting on a shared check run their own.
    pub fn forget_all(&self) {
        let mut state = self.lock();
        state.generation += 1;
        state.good.clear();
        for (_, flight) in state.flights.drain() {
            flight.settle(false);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().good.len()
    }
}

/// Methods whose success may turn a good token bad (revoke it, deactivate
/// or erase its user, take a role away, move the user): their answer waits
/// until this replica's verdicts are forgotten.
const IDENTITY_WRITES: &[&str] = &[
    "/stride.identity.v1.IdentityService/Logout",
    "/stride.identity.v1.IdentityService/RefreshToken",
    "/stride.identity.v1.IdentityService/UpdateUser",
    "/stride.identity.v1.IdentityService/DeactivateUser",
    "/stride.identity.v1.IdentityService/RevokeRole",
    "/stride.identity.v1.IdentityService/EraseUser",
    "/stride.events.v1.EventService/UpsertUsers",
];

/// Whether a call of `path` must forget this replica's verdicts.
pub fn writes_identity(path: &str) -> bool {
    IDENTITY_WRITES.contains(&path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn subject(role: Option<Role>) -> VerdictKey {
        match role {
            Some(role) => VerdictKey::Person(TokenAssertion {
                user_id: Uuid::new_v4(),
                jti: Uuid::new_v4(),
                org_id: Uuid::new_v4(),
                role,
            }),
            None => VerdictKey::Service(Uuid::new_v4()),
        }
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_good_verdict_is_trusted_for_a_second_from_when_its_check_started() {
        let verdicts = Verdicts::new(SECOND);
        let t0 = Instant::now();
        let who = subject(Some(Role::Learner));
        let ticket = verdicts.lookup(who, t0).unwrap_err();
        verdicts.good(ticket);
        assert!(
            verdicts
                .lookup(who, t0 + Duration::from_millis(999))
                .is_ok()
        );
        assert!(verdicts.lookup(who, t0 + SECOND).is_err());
    }

    #[test]
    fn a_verdict_holds_only_for_the_exact_claims_it_checked() {
        let verdicts = Verdicts::new(SECOND);
        let t0 = Instant::now();
        let VerdictKey::Person(learner) = subject(Some(Role::Learner)) else {
            unreachable!()
        };
        verdicts.good(
            verdicts
                .lookup(VerdictKey::Person(learner), t0)
                .unwrap_err(),
        );
        assert!(verdicts.lookup(VerdictKey::Person(learner), t0).is_ok());
        let other = Uuid::new_v4();
        for changed in [
            TokenAssertion {
                role: Role::Trainer,
                ..learner
            },
            TokenAssertion {
                org_id: other,
                ..learner
            },
            TokenAssertion {
                user_id: other,
                ..learner
            },
        ] {
            assert!(verdicts.lookup(VerdictKey::Person(changed), t0).is_err());
        }
        assert!(
            verdicts
                .lookup(VerdictKey::Service(learner.jti), t0)
                .is_err()
        );
    }

    #[test]
    fn an_identity_write_forgets_verdicts_and_voids_checks_in_flight() {
        let verdicts = Verdicts::new(SECOND);
        let t0 = Instant::now();
        let kept = subject(None);
        verdicts.good(verdicts.lookup(kept, t0).unwrap_err());
        let in_flight = verdicts.lookup(subject(None), t0).unwrap_err();
        verdicts.forget_all();
        assert!(verdicts.lookup(kept, t0).is_err());
        verdicts.good(in_flight);
        assert!(verdicts.lookup(in_flight.key, t0).is_err());
    }

    #[test]
    fn the_bound_is_capped_at_a_second_and_zero_keeps_nothing() {
        let t0 = Instant::now();
        let long = Verdicts::new(Duration::from_secs(60));
        let who = subject(None);
        long.good(long.lookup(who, t0).unwrap_err());
        assert!(long.lookup(who, t0 + SECOND).is_err());

        let none = Verdicts::new(Duration::ZERO);
        none.good(none.lookup(who, t0).unwrap_err());
        assert!(none.lookup(who, t0).is_err());
        assert_eq!(none.len(), 0);
    }

    #[test]
    fn an_older_check_does_not_shorten_a_newer_verdict() {
        let verdicts = Verdicts::new(SECOND);
        let t0 = Instant::now();
        let who = subject(None);
        let older = verdicts.lookup(who, t0).unwrap_err();
        let t1 = t0 + Duration::from_millis(900);
        verdicts.good(verdicts.lookup(who, t1).unwrap_err());
        verdicts.good(older);
        assert!(
            verdicts
                .lookup(who, t1 + Duration::from_millis(500))
                .is_ok()
        );
    }

    #[test]
    fn the_store_stays_bounded() {
        let verdicts = Verdicts::new(SECOND);
        let t0 = Instant::now();
        for i in 0..CAPACITY {
            let at = t0 + Duration::from_micros(i as u64);
            verdicts.good(verdicts.lookup(subject(None), at).unwrap_err());
        }
        assert_eq!(verdicts.len(), CAPACITY);
        // Two seconds on, every kept verdict has expired and is dropped.
        let later = t0 + 2 * SECOND;
        verdicts.good(verdicts.lookup(subject(None), later).unwrap_err());
        assert_eq!(verdicts.len(), 1);
    }

    /// A call of `key` at `at` that finds no held verdict and joins (or
    /// starts) the check in flight.
    fn arrive(verdicts: &Arc<Verdicts>, key: VerdictKey, at: Instant) -> Join {
        verdicts.join(verdicts.lookup(key, at).unwrap_err())
    }

    fn lead(join: Join) -> Lead {
        match join {
            Join::Lead(lead) => lead,
            Join::Follow(_) => panic!("expected to lead"),
        }
    }

    fn follow(join: Join) -> Follower {
        match join {
            Join::Follow(follower) => follower,
            Join::Lead(_) => panic!("expected to follow"),
        }
    }

    #[tokio::test]
    async fn calls_arriving_during_a_check_share_its_good_verdict() {
        let verdicts = Arc::new(Verdicts::new(SECOND));
        let t0 = Instant::now();
        let who = subject(None);
        let first = lead(arrive(&verdicts, who, t0));
        let at = t0 + Duration::from_millis(5);
        let waiting: Vec<Follower> = (0..3).map(|_| follow(arrive(&verdicts, who, at))).collect();
        // Another token's call does not wait on this check.
        lead(arrive(&verdicts, subject(None), at));
        first.good();
        for follower in waiting {
            assert!(follower.good().await);
        }
        assert!(verdicts.lookup(who, at).is_ok());
        // Settled: the next check of the key (once the verdict expires)
        // leads again.
        lead(arrive(&verdicts, who, t0 + SECOND));
    }

    #[tokio::test]
    async fn a_check_that_fails_or_is_cut_off_leaves_its_followers_to_check() {
        let verdicts = Arc::new(Verdicts::new(SECOND));
        let t0 = Instant::now();
        let who = subject(None);
        let first = lead(arrive(&verdicts, who, t0));
        let follower = follow(arrive(&verdicts, who, t0));
        drop(first);
        assert!(!follower.good().await);
        assert!(verdicts.lookup(who, t0).is_err(), "nothing kept");
    }

    #[tokio::test]
    async fn an_identity_write_voids_a_shared_check() {
        let verdicts = Arc::new(Verdicts::new(SECOND));
        let t0 = Instant::now();
        let who = subject(None);
        let first = lead(arrive(&verdicts, who, t0));
        let before = follow(arrive(&verdicts, who, t0));
        verdicts.forget_all();
        assert!(!before.good().await, "told at once, not after the check");
        // A call after the write does not join the check that predates it.
        let after = lead(arrive(&verdicts, who, t0));
        first.good();
        assert!(
            verdicts.lookup(who, t0).is_err(),
            "the voided check keeps nothing"
        );
        after.good();
        assert!(verdicts.lookup(who, t0).is_ok());
    }

    #[test]
    fn no_check_is_shared_past_the_bound_or_when_verdicts_are_off() {
        let verdicts = Arc::new(Verdicts::new(SECOND));
        let t0 = Instant::now();
        let who = subject(None);
        let _slow = lead(arrive(&verdicts, who, t0));
        let _fresh = lead(arrive(&verdicts, who, t0 + SECOND));
        // Later calls wait for the newer check.
        follow(arrive(&verdicts, who, t0 + SECOND));

        let off = Arc::new(Verdicts::new(Duration::ZERO));
        let _one = lead(arrive(&off, who, t0));
        lead(arrive(&off, who, t0));
    }

    #[test]
    fn identity_writes_are_named_by_their_full_path() {
        assert!(writes_identity(
            "/stride.identity.v1.IdentityService/DeactivateUser"
        ));
        assert!(writes_identity(
            "/stride.events.v1.EventService/UpsertUsers"
        ));
        assert!(!writes_identity(
            "/stride.identity.v1.IdentityService/WhoAmI"
        ));
        for path in IDENTITY_WRITES {
            assert!(
                super::super::policy::policy_for(path).is_some(),
                "{path} is not a method the server has"
            );
        }
    }
}
