//! Who calls: a person under one of their roles, or an upstream service,
//! and why a validly signed person's token may no longer work. Plain data:
//! `auth` fills it from a verified token, `db` hands it to PostgreSQL, and
//! `domain::access` decides on it.

use std::collections::HashSet;

use uuid::Uuid;

use super::role::{Role, Scope};

/// Who is calling, after the token was verified and the active role chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A person acting under one active role they hold.
    User {
        user_id: Uuid,
        org_id: Uuid,
        role: Role,
        roles: HashSet<Role>,
    },
    /// An upstream microservice; `org_id` is `None` for platform-scoped ones.
    Service {
        name: String,
        org_id: Option<Uuid>,
        scopes: HashSet<Scope>,
    },
}

impl Principal {
    /// The tenant the caller belongs to (`None`: platform-scoped service).
    pub fn org_id(&self) -> Option<Uuid> {
        match self {
            Principal::User { org_id, .. } => Some(*org_id),
            Principal::Service { org_id, .. } => *org_id,
        }
    }

    /// The role a person acts under (`None`: a service).
    pub fn role(&self) -> Option<Role> {
        match self {
            Principal::User { role, .. } => Some(*role),
            Principal::Service { .. } => None,
        }
    }
}

/// A person's token whose database check is still to run: what
/// `stride_assert_token` is called with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenAssertion {
    pub user_id: Uuid,
    pub jti: Uuid,
    pub org_id: Uuid,
    pub role: Role,
}

/// Why a validly signed token no longer works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    UnknownUser,
    Deactivated,
    Revoked,
    OtherOrganization,
    RoleNotHeld,
}

impl Refusal {
    pub const ALL: [Refusal; 5] = [
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
}
