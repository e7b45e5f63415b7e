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

use super::role::Role;

/// Why a validly signed token no longer works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    UnknownUser,
    Deactivated,
    Revoked,
    OtherOrganization,
    RoleNotHeld,
}

/// The prefix of the message `stride_assert_token` raises.
const RAISED: &str = "stride_token:";

impl Refusal {
    const ALL: [Refusal; 5] = [
        Refusal::UnknownUser,
        Refusal::Deactivated,
        Refusal::Revoked,
        Refusal::OtherOrganization,
        Refusal::RoleNotHeld,
    ];

    /// The reason as `stride_assert_token` names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::UnknownUser => "unknown_user",
            Refusal::Deactivated => "deactivated",
            Refusal::Revoked => "revoked",
            Refusal::OtherOrganization => "other_organization",
            Refusal::RoleNotHeld => "role_not_held",
        }
    }

    /// The refusal `stride_token_refusal` names `reason`.
    pub fn named(reason: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == reason)
    }

    /// The refusal a database error carries, if it is one.
    pub fn raised_in(err: &diesel::result::Error) -> Option<Self> {
        let diesel::result::Error::DatabaseError(_, info) = err else {
            return None;
        };
        Self::named(info.message().strip_prefix(RAISED)?)
    }

    /// The answer to the caller acting under `role`.
    pub fn status(self, role: Role) -> Status {
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
    fn a_raised_reason_is_read_back_and_anything_else_is_not() {
        use diesel::result::{DatabaseErrorKind, Error};
        let raised =
            |msg: &str| Error::DatabaseError(DatabaseErrorKind::Unknown, Box::new(msg.to_string()));
        for r in Refusal::ALL {
            let err = raised(&format!("stride_token:{}", r.as_str()));
            assert_eq!(Refusal::raised_in(&err), Some(r));
        }
        assert_eq!(Refusal::raised_in(&raised("stride_token:other")), None);
        assert_eq!(Refusal::raised_in(&raised("permission denied")), None);
        assert_eq!(Refusal::raised_in(&Error::NotFound), None);
    }

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
