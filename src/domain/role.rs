//! The four roles of the spec and the scopes of service tokens.

use std::fmt;
use std::str::FromStr;

/// A role a user may hold. Ordered from least to most privileged, which is
/// the order used to pick a default active role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Learner,
    Trainer,
    OrgAdmin,
    PlatformAdmin,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Learner,
        Role::Trainer,
        Role::OrgAdmin,
        Role::PlatformAdmin,
    ];

    /// The spelling used in tokens, the database and `x-stride-role`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Learner => "learner",
            Role::Trainer => "trainer",
            Role::OrgAdmin => "org_admin",
            Role::PlatformAdmin => "platform_admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (expected learner, trainer, org_admin or platform_admin)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// A permission carried by a service token (upstream microservices).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Publish learning events.
    EventsWrite,
    /// Upsert catalogue data: users, courses, skills, enrollments.
    CatalogWrite,
}

impl Scope {
    pub const ALL: [Scope; 2] = [Scope::EventsWrite, Scope::CatalogWrite];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::EventsWrite => "events:write",
            Scope::CatalogWrite => "catalog:write",
        }
    }
}

/// A string that names no scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?} (expected events:write or catalog:write)")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownScope(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("admin".parse::<Role>().is_err());
        assert!(
            "Learner".parse::<Role>().is_err(),
            "names are case-sensitive"
        );
    }

    #[test]
    fn scopes_round_trip_through_their_names() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
        assert!("events:read".parse::<Scope>().is_err());
    }
}
