//! The per-RPC access policy: one table naming, for every full method path,
//! who may call it. A path missing from the table is denied (see
//! `layer::authorize`), and a test checks that every method the server
//! registers has an entry. Finer checks (whose data a caller may read) are
//! made by the handlers and by row-level security.

use super::context::Principal;
use crate::domain::role::{Role, Scope};

/// Who may call a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token needed: health, reflection, login.
    Public,
    /// Any verified caller, person or service (WhoAmI).
    AnyCaller,
    /// People acting under one of `roles`, or services holding `scope`.
    Callers {
        roles: &'static [Role],
        scope: Option<Scope>,
    },
}

impl Access {
    /// Whether `principal` passes this policy.
    pub fn allows(&self, principal: &Principal) -> bool {
        match (self, principal) {
            (Access::Public | Access::AnyCaller, _) => true,
            (Access::Callers { roles, .. }, Principal::User { role, .. }) => roles.contains(role),
            (Access::Callers { scope, .. }, Principal::Service { scopes, .. }) => {
                scope.is_some_and(|s| scopes.contains(&s))
            }
        }
    }
}

use Role::{Learner, OrgAdmin, PlatformAdmin, Trainer};

const EVERYONE: &[Role] = &[Learner, Trainer, OrgAdmin, PlatformAdmin];
const TRAINERS_UP: &[Role] = &[Trainer, OrgAdmin, PlatformAdmin];
const ADMINS: &[Role] = &[OrgAdmin, PlatformAdmin];
const PLATFORM: &[Role] = &[PlatformAdmin];
const NO_ROLE: &[Role] = &[];

const fn people(roles: &'static [Role]) -> Access {
    Access::Callers { roles, scope: None }
}

const fn service(scope: Scope) -> Access {
    Access::Callers {
        roles: NO_ROLE,
        scope: Some(scope),
    }
}

/// Catalogue writes come from upstream services, or from platform admins
/// repairing data by hand.
const CATALOG: Access = Access::Callers {
    roles: PLATFORM,
    scope: Some(Scope::CatalogWrite),
};

/// Every method the server exposes, with its policy.
pub const POLICIES: &[(&str, Access)] = &[
    // Infrastructure: public so load balancers and grpcurl work untokened.
    ("/grpc.health.v1.Health/Check", Access::Public),
    ("/grpc.health.v1.Health/Watch", Access::Public),
    (
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        Access::Public,
    ),
    (
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        Access::Public,
    ),
    // Identity.
    ("/stride.identity.v1.IdentityService/Login", Access::Public),
    (
        "/stride.identity.v1.IdentityService/RefreshToken",
        Access::Public,
    ),
    (
        "/stride.identity.v1.IdentityService/Logout",
        people(EVERYONE),
    ),
    (
        "/stride.identity.v1.IdentityService/WhoAmI",
        Access::AnyCaller,
    ),
    (
        "/stride.identity.v1.IdentityService/IssueServiceToken",
        people(PLATFORM),
    ),
    (
        "/stride.identity.v1.IdentityService/CreateOrganization",
        people(PLATFORM),
    ),
    (
        "/stride.identity.v1.IdentityService/UpdateOrganization",
        people(PLATFORM),
    ),
    (
        "/stride.identity.v1.IdentityService/GetOrganization",
        people(EVERYONE),
    ),
    (
        "/stride.identity.v1.IdentityService/ListOrganizations",
        people(PLATFORM),
    ),
    (
        "/stride.identity.v1.IdentityService/CreateUser",
        people(ADMINS),
    ),
    (
        "/stride.identity.v1.IdentityService/UpdateUser",
        people(ADMINS),
    ),
    (
        "/stride.identity.v1.IdentityService/DeactivateUser",
        people(ADMINS),
    ),
    (
        "/stride.identity.v1.IdentityService/GetUser",
        people(EVERYONE),
    ),
    (
        "/stride.identity.v1.IdentityService/ListUsers",
        people(TRAINERS_UP),
    ),
    (
        "/stride.identity.v1.IdentityService/GrantRole",
        people(ADMINS),
    ),
    (
        "/stride.identity.v1.IdentityService/RevokeRole",
        people(ADMINS),
    ),
    (
        "/stride.identity.v1.IdentityService/GetPreferences",
        people(EVERYONE),
    ),
    (
        "/stride.identity.v1.IdentityService/UpdatePreferences",
        people(EVERYONE),
    ),
    (
        "/stride.identity.v1.IdentityService/ExportUserData",
        people(EVERYONE),
    ),
    (
        "/stride.identity.v1.IdentityService/EraseUser",
        people(ADMINS),
    ),
    // Ingestion: service tokens only for events; catalogue also by platform admins.
    ("/stride.events.v1.EventService/UpsertUsers", CATALOG),
    ("/stride.events.v1.EventService/UpsertDepartments", CATALOG),
    ("/stride.events.v1.EventService/UpsertCourses", CATALOG),
    ("/stride.events.v1.EventService/UpsertLessons", CATALOG),
    (
        "/stride.events.v1.EventService/UpsertLearningPaths",
        CATALOG,
    ),
    ("/stride.events.v1.EventService/UpsertSkills", CATALOG),
    ("/stride.events.v1.EventService/UpsertCourseSkills", CATALOG),
    ("/stride.events.v1.EventService/UpsertEnrollments", CATALOG),
    (
        "/stride.events.v1.EventService/UpsertPrioritySkills",
        CATALOG,
    ),
    (
        "/stride.events.v1.EventService/PublishEvent",
        service(Scope::EventsWrite),
    ),
    (
        "/stride.events.v1.EventService/PublishEvents",
        service(Scope::EventsWrite),
    ),
    (
        "/stride.events.v1.EventService/ImportXapiStatements",
        service(Scope::EventsWrite),
    ),
    // Gamification.
    (
        "/stride.gamification.v1.GamificationService/GetProfile",
        people(EVERYONE),
    ),
    (
        "/stride.gamification.v1.GamificationService/ListLedger",
        people(EVERYONE),
    ),
    (
        "/stride.gamification.v1.GamificationService/GetLeaderboard",
        people(EVERYONE),
    ),
    (
        "/stride.gamification.v1.GamificationService/WatchLeaderboard",
        people(EVERYONE),
    ),
    (
        "/stride.gamification.v1.GamificationService/ListAchievements",
        people(EVERYONE),
    ),
    (
        "/stride.gamification.v1.GamificationService/CreateAchievement",
        people(ADMINS),
    ),
    (
        "/stride.gamification.v1.GamificationService/RecomputeGamification",
        people(ADMINS),
    ),
    // Analytics, learner family: learners about themselves, the others about
    // the people they may see (checked in the handler and by RLS).
    (
        "/stride.analytics.v1.AnalyticsService/GetLearningVelocity",
        people(EVERYONE),
    ),
    (
        "/stride.analytics.v1.AnalyticsService/GetSkillGapMatrix",
        people(EVERYONE),
    ),
    (
        "/stride.analytics.v1.AnalyticsService/GetEngagementScore",
        people(EVERYONE),
    ),
    (
        "/stride.analytics.v1.AnalyticsService/GetMasteryProgress",
        people(EVERYONE),
    ),
    (
        "/stride.analytics.v1.AnalyticsService/GetAssessmentPerformance",
        people(EVERYONE),
    ),
    (
        "/stride.analytics.v1.AnalyticsService/GetContentEffectiveness",
        people(EVERYONE),
    ),
    // Trainer family.
    (
        "/stride.analytics.v1.AnalyticsService/GetCoursePerformance",
        people(TRAINERS_UP),
    ),
    (
        "/stride.analytics.v1.AnalyticsService/GetCourseHealth",
        people(TRAINERS_UP),
    ),
    (
        "/stride.analytics.v1.AnalyticsService/GetStudentDistribution",
        people(TRAINERS_UP),
    ),
    (
        "/stride.analytics.v1.AnalyticsService/GetTeachingEffectiveness",
        people(TRAINERS_UP),
    ),
    // Organization family.
    (
        "/stride.analytics.v1.AnalyticsService/GetOrganizationVelocity",
        people(ADMINS),
    ),
    (
        "/stride.analytics.v1.AnalyticsService/GetStrategicAlignment",
        people(ADMINS),
    ),
    (
        "/stride.analytics.v1.AnalyticsService/GetDepartmentAnalytics",
        people(ADMINS),
    ),
    (
        "/stride.analytics.v1.AnalyticsService/GetLearningCulture",
        people(ADMINS),
    ),
    // Predictive: learner about self, trainer about students, admins about org.
    (
        "/stride.analytics.v1.AnalyticsService/GetDropOffRisk",
        people(EVERYONE),
    ),
    (
        "/stride.analytics.v1.AnalyticsService/GetOutcomeForecast",
        people(EVERYONE),
    ),
    (
        "/stride.analytics.v1.AnalyticsService/GetRecommendations",
        people(EVERYONE),
    ),
    // Comparison.
    (
        "/stride.analytics.v1.AnalyticsService/GetSkillDemand",
        people(ADMINS),
    ),
    (
        "/stride.analytics.v1.AnalyticsService/GetPeerComparison",
        people(EVERYONE),
    ),
];

/// The policy for a full method path (`/package.Service/Method`).
pub fn policy_for(path: &str) -> Option<Access> {
    POLICIES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, access)| *access)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use uuid::Uuid;

    use super::*;

    fn user(role: Role) -> Principal {
        Principal::User {
            user_id: Uuid::nil(),
            org_id: Uuid::nil(),
            role,
            roles: HashSet::from([role]),
        }
    }

    fn svc(scopes: &[Scope]) -> Principal {
        Principal::Service {
            name: "lms".into(),
            org_id: None,
            scopes: scopes.iter().copied().collect(),
        }
    }

    #[test]
    fn table_has_no_duplicate_paths() {
        let mut seen = HashSet::new();
        for (path, _) in POLICIES {
            assert!(seen.insert(*path), "{path} listed twice");
        }
    }

    #[test]
    fn every_rpc_of_every_stride_service_has_a_policy() {
        use prost::Message;
        let set = prost_types::FileDescriptorSet::decode(crate::proto::FILE_DESCRIPTOR_SET)
            .expect("descriptor set decodes");
        let mut declared = HashSet::new();
        for file in &set.file {
            for service in &file.service {
                for method in &service.method {
                    let path = format!("/{}.{}/{}", file.package(), service.name(), method.name());
                    assert!(policy_for(&path).is_some(), "no policy for {path}");
                    declared.insert(path);
                }
            }
        }
        assert!(
            declared.len() > 40,
            "the API surface is declared ({} methods)",
            declared.len()
        );
        // And no stale entries: every Stride policy names a real method.
        for (path, _) in POLICIES.iter().filter(|(p, _)| p.starts_with("/stride.")) {
            assert!(
                declared.contains(*path),
                "policy for a method that does not exist: {path}"
            );
        }
    }

    #[test]
    fn unknown_path_has_no_policy() {
        assert_eq!(
            policy_for("/stride.events.v1.EventService/DropTables"),
            None
        );
    }

    #[test]
    fn learners_cannot_reach_trainer_or_org_analytics() {
        let learner = user(Role::Learner);
        let course = policy_for("/stride.analytics.v1.AnalyticsService/GetCourseHealth").unwrap();
        let org = policy_for("/stride.analytics.v1.AnalyticsService/GetLearningCulture").unwrap();
        assert!(!course.allows(&learner));
        assert!(!org.allows(&learner));
        assert!(course.allows(&user(Role::Trainer)));
        assert!(!org.allows(&user(Role::Trainer)));
        assert!(org.allows(&user(Role::OrgAdmin)));
    }

    #[test]
    fn events_need_the_events_scope_and_no_role_suffices() {
        let publish = policy_for("/stride.events.v1.EventService/PublishEvent").unwrap();
        assert!(publish.allows(&svc(&[Scope::EventsWrite])));
        assert!(!publish.allows(&svc(&[Scope::CatalogWrite])));
        for role in Role::ALL {
            assert!(
                !publish.allows(&user(role)),
                "{role} must not publish events"
            );
        }
    }

    #[test]
    fn services_cannot_call_people_methods() {
        let profile = policy_for("/stride.gamification.v1.GamificationService/GetProfile").unwrap();
        assert!(!profile.allows(&svc(&[Scope::EventsWrite, Scope::CatalogWrite])));
    }
}
