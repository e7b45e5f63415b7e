//! What a signature cannot tell: is the user still active, the token not
//! revoked (logout), the active role still held? Checked against the
//! database, so that deactivation and revocation act at once on this
//! replica (and, through `verdicts`, within a second on the others).
//!
//! For a person's token the check rides on the request's first transaction
//! (the `BEGIN` simple query calls `stride_assert_token`), saving a pool
//! checkout and a round trip; the auth layer runs it on its own only for a
//! call that opened no transaction on the primary. [`TokenCheck`] carries
//! the outcome from wherever it was decided back to the layer.

use std::sync::OnceLock;

use tonic::Status;

pub use crate::domain::caller::Refusal;
use crate::domain::role::Role;

/// How a refusal is answered to the caller.
pub trait Answer {
    /// The answer to the caller acting under `role`.
    fn status(self, role: Role) -> Status;
}

impl Answer for Refusal {
    fn status(self, role: Role) -> Status {
        match self {
            Refusal::UnknownUser => Status::unauthenticated("the token's user does not exist"),
            Refusal::Deactivated => Status::unauthenticated("the user is deactivated"),
            Refusal::Revoked => Status::unauthenticated("token revoked"),
            Refusal::OtherOrganization => {
                Status::unauthenticated("the token's organization does not match the user's")
            }
            Refusal::RoleNotHeld => {
                Status::permission_denied(format!("the role {role} is no longer held"))
            }
        }
    }
}

/// The outcome of one call's token check, decided once.
#[derive(Debug, Default)]
pub struct TokenCheck {
    outcome: OnceLock<Result<(), Refusal>>,
}

impl TokenCheck {
    /// `None` while no check has run.
    pub fn outcome(&self) -> Option<Result<(), Refusal>> {
        self.outcome.get().copied()
    }

    /// Records what a check found (the first record wins).
    pub fn record(&self, outcome: Result<(), Refusal>) {
        let _ = self.outcome.set(outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_say_why_with_the_right_code() {
        use tonic::Code;
        assert_eq!(
            Refusal::Revoked.status(Role::Learner).code(),
            Code::Unauthenticated
        );
        let held = Refusal::RoleNotHeld.status(Role::Trainer);
        assert_eq!(held.code(), Code::PermissionDenied);
        assert!(held.message().contains("trainer"), "{}", held.message());
    }

    #[test]
    fn the_first_recorded_outcome_stands() {
        let check = TokenCheck::default();
        assert_eq!(check.outcome(), None);
        check.record(Err(Refusal::Revoked));
        check.record(Ok(()));
        assert_eq!(check.outcome(), Some(Err(Refusal::Revoked)));
    }
}
