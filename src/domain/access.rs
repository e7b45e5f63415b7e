//! Who may read or change whose data: the service-layer rules that run
//! before any query. Row-level security repeats the tenant part in the
//! database; these rules add what RLS cannot say (roles that may never name
//! another person, privilege escalation).

use uuid::Uuid;

use crate::domain::caller::Principal;
use crate::domain::role::Role;

/// The service layer's verdict on a request about one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Allow,
    /// Go ahead; the database decides visibility (outside the caller's
    /// scope, the row is simply not found).
    WithinScope,
    /// Refuse with PERMISSION_DENIED and this reason.
    Deny(&'static str),
}

/// Reading data about `target` (profile, preferences, analytics).
pub fn read_person(caller: &Principal, target: Uuid) -> Verdict {
    match caller {
        Principal::User { user_id, .. } if *user_id == target => Verdict::Allow,
        Principal::User {
            role: Role::Learner,
            ..
        } => Verdict::Deny("learners may only read their own data"),
        Principal::User {
            role: Role::Trainer | Role::OrgAdmin,
            ..
        } => Verdict::WithinScope,
        Principal::User {
            role: Role::PlatformAdmin,
            ..
        } => Verdict::Allow,
        Principal::Service { .. } => Verdict::Deny("service tokens cannot read people's data"),
    }
}

/// Changing `target`'s own settings (preferences): the person, or an admin.
pub fn change_person_settings(caller: &Principal, target: Uuid) -> Verdict {
    match caller {
        Principal::User { user_id, .. } if *user_id == target => Verdict::Allow,
        Principal::User {
            role: Role::OrgAdmin,
            ..
        } => Verdict::WithinScope,
        Principal::User {
            role: Role::PlatformAdmin,
            ..
        } => Verdict::Allow,
        _ => Verdict::Deny("only the user or an admin may change these settings"),
    }
}

/// Administering users of `org` (create, deactivate, roles).
pub fn administer_org(caller: &Principal, org: Uuid) -> Verdict {
    match caller {
        Principal::User {
            role: Role::PlatformAdmin,
            ..
        } => Verdict::Allow,
        Principal::User {
            role: Role::OrgAdmin,
            org_id,
            ..
        } if *org_id == org => Verdict::Allow,
        Principal::User {
            role: Role::OrgAdmin,
            ..
        } => Verdict::Deny("org admins administer their own organization only"),
        _ => Verdict::Deny("only admins administer users"),
    }
}

/// Granting or revoking `role`: only platform admins hand out (or take
/// away) platform_admin, so no org admin can escalate.
pub fn manage_role(caller: &Principal, role: Role) -> Verdict {
    match (caller, role) {
        (
            Principal::User {
                role: Role::PlatformAdmin,
                ..
            },
            _,
        ) => Verdict::Allow,
        (_, Role::PlatformAdmin) => {
            Verdict::Deny("only platform admins manage the platform_admin role")
        }
        (
            Principal::User {
                role: Role::OrgAdmin,
                ..
            },
            _,
        ) => Verdict::Allow,
        _ => Verdict::Deny("only admins manage roles"),
    }
}

/// Leaderboards at all: people only.
pub fn read_boards(caller: &Principal) -> Verdict {
    match caller {
        Principal::User { .. } => Verdict::Allow,
        Principal::Service { .. } => Verdict::Deny("boards are for people's tokens"),
    }
}

/// Reading the board `scope` names: one's own organization's, or any for
/// a platform admin (the platform board is theirs alone); a course board is
/// scoped by the database (a course outside the caller's reach is not
/// found).
pub fn read_board(
    caller: &Principal,
    scope: crate::domain::gamification::boards::Scope,
) -> Verdict {
    use crate::domain::gamification::boards::Scope;
    let Principal::User { org_id, role, .. } = caller else {
        return read_boards(caller);
    };
    match scope {
        Scope::Course(_) => Verdict::WithinScope,
        _ if *role == Role::PlatformAdmin => Verdict::Allow,
        Scope::Organization(org) if org == *org_id => Verdict::Allow,
        Scope::Organization(_) => {
            Verdict::Deny("only platform admins may read another organization's board")
        }
        Scope::Platform => Verdict::Deny("the platform board is for platform admins"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn user(role: Role, id: Uuid, org: Uuid) -> Principal {
        Principal::User {
            user_id: id,
            org_id: org,
            role,
            roles: HashSet::from([role]),
        }
    }

    #[test]
    fn learners_read_only_themselves() {
        let (me, other, org) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(
            read_person(&user(Role::Learner, me, org), me),
            Verdict::Allow
        );
        assert!(matches!(
            read_person(&user(Role::Learner, me, org), other),
            Verdict::Deny(_)
        ));
    }

    #[test]
    fn trainers_and_org_admins_are_scoped_by_the_database() {
        let (me, other, org) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(
            read_person(&user(Role::Trainer, me, org), other),
            Verdict::WithinScope
        );
        assert_eq!(
            read_person(&user(Role::OrgAdmin, me, org), other),
            Verdict::WithinScope
        );
        assert_eq!(
            read_person(&user(Role::PlatformAdmin, me, org), other),
            Verdict::Allow
        );
    }

    #[test]
    fn trainers_cannot_change_others_settings() {
        let (me, other, org) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        assert!(matches!(
            change_person_settings(&user(Role::Trainer, me, org), other),
            Verdict::Deny(_)
        ));
        assert_eq!(
            change_person_settings(&user(Role::Trainer, me, org), me),
            Verdict::Allow
        );
    }

    #[test]
    fn org_admins_administer_only_their_org() {
        let (me, org, other_org) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(
            administer_org(&user(Role::OrgAdmin, me, org), org),
            Verdict::Allow
        );
        assert!(matches!(
            administer_org(&user(Role::OrgAdmin, me, org), other_org),
            Verdict::Deny(_)
        ));
        assert_eq!(
            administer_org(&user(Role::PlatformAdmin, me, org), other_org),
            Verdict::Allow
        );
    }

    #[test]
    fn boards_are_for_people_and_other_boards_for_platform_admins() {
        use crate::domain::gamification::boards::Scope;
        let (me, org, other_org, course) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        let service = Principal::Service {
            name: "lms".into(),
            org_id: Some(org),
            scopes: HashSet::new(),
        };
        assert_eq!(
            read_boards(&service),
            Verdict::Deny("boards are for people's tokens")
        );
        assert_eq!(
            read_board(&service, Scope::Organization(org)),
            Verdict::Deny("boards are for people's tokens")
        );
        for role in [Role::Learner, Role::Trainer, Role::OrgAdmin] {
            let caller = user(role, me, org);
            assert_eq!(read_boards(&caller), Verdict::Allow);
            assert_eq!(
                read_board(&caller, Scope::Organization(org)),
                Verdict::Allow
            );
            assert_eq!(
                read_board(&caller, Scope::Organization(other_org)),
                Verdict::Deny("only platform admins may read another organization's board")
            );
            assert_eq!(
                read_board(&caller, Scope::Platform),
                Verdict::Deny("the platform board is for platform admins")
            );
            assert_eq!(
                read_board(&caller, Scope::Course(course)),
                Verdict::WithinScope
            );
        }
        let admin = user(Role::PlatformAdmin, me, org);
        for scope in [Scope::Organization(other_org), Scope::Platform] {
            assert_eq!(read_board(&admin, scope), Verdict::Allow, "{scope:?}");
        }
        assert_eq!(
            read_board(&admin, Scope::Course(course)),
            Verdict::WithinScope
        );
    }

    #[test]
    fn org_admins_cannot_grant_platform_admin() {
        let (me, org) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(matches!(
            manage_role(&user(Role::OrgAdmin, me, org), Role::PlatformAdmin),
            Verdict::Deny(_)
        ));
        assert_eq!(
            manage_role(&user(Role::OrgAdmin, me, org), Role::Trainer),
            Verdict::Allow
        );
        assert_eq!(
            manage_role(&user(Role::PlatformAdmin, me, org), Role::PlatformAdmin),
            Verdict::Allow
        );
    }
}
