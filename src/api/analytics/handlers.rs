//! One function per analytic: parse and resolve the subject (under the
//! caller), then serve through the cache with the family's computation.

use diesel_async::AsyncPgConnection;
use futures::future::BoxFuture;
use serde::{Serialize, de::DeserializeOwned};
use uuid::Uuid;

use super::cache::{Computed, Key, Served, Subject, resolver, serve};
use super::comparison::{self, DEFAULT_MONTHS, MAX_MONTHS, Peers};
use super::{course, learner, organization, predictive, subject};
use crate::api::{ApiError, AppState, enforce, uuid_or};
use crate::auth::{AuthContext, Principal, Role};
use crate::domain::access;
use crate::domain::analytics::{Audience, Kind};
use crate::proto::analytics::v1 as pb;
use crate::proto::common::v1::AnalyticsMeta;

/// Answers carry their meta; predictive ones can say "opted out".
pub trait Answer: Default + Serialize + DeserializeOwned + Send + 'static {
    fn set_meta(&mut self, meta: AnalyticsMeta);
    fn mark_opted_out(&mut self) {}
}

macro_rules! answers {
    ($($t:ident),* $(,)?) => {
        $(impl Answer for pb::$t {
            fn set_meta(&mut self, meta: AnalyticsMeta) {
                self.meta = Some(meta);
            }
        })*
    };
}
macro_rules! predictive_answers {
    ($($t:ident),* $(,)?) => {
        $(impl Answer for pb::$t {
            fn set_meta(&mut self, meta: AnalyticsMeta) {
                self.meta = Some(meta);
            }
            fn mark_opted_out(&mut self) {
                self.opted_out = true;
            }
        })*
    };
}
answers!(
    GetLearningVelocityResponse,
    GetSkillGapMatrixResponse,
    GetEngagementScoreResponse,
    GetMasteryProgressResponse,
    GetAssessmentPerformanceResponse,
    GetContentEffectivenessResponse,
    GetCoursePerformanceResponse,
    GetCourseHealthResponse,
    GetStudentDistributionResponse,
    GetTeachingEffectivenessResponse,
    GetOrganizationVelocityResponse,
    GetStrategicAlignmentResponse,
    GetDepartmentAnalyticsResponse,
    GetLearningCultureResponse,
    GetSkillDemandResponse,
    GetPeerComparisonResponse,
);
predictive_answers!(
    GetDropOffRiskResponse,
    GetOutcomeForecastResponse,
    GetRecommendationsResponse,
);

fn finish<T: Answer>(served: Served<T>) -> T {
    let mut answer = served.answer.unwrap_or_else(|| {
        let mut none = T::default();
        none.mark_opted_out();
        none
    });
    answer.set_meta(served.meta);
    answer
}

type Compute<T> =
    for<'c> fn(&'c mut AsyncPgConnection, Key) -> BoxFuture<'c, Result<Computed<T>, ApiError>>;

/// A learner-family (or predictive) analytic about the subject's user
/// (empty: the caller).
async fn about_learner<T: Answer>(
    state: &AppState,
    ctx: &AuthContext,
    kind: Kind,
    subject: Option<pb::LearnerSubject>,
    fresh: bool,
    compute: Compute<T>,
) -> Result<T, ApiError> {
    about_learner_with(
        state,
        ctx,
        kind,
        user_of(subject),
        String::new(),
        fresh,
        compute,
    )
    .await
}

/// The same with `params` beyond the person.
async fn about_learner_with<T: Answer>(
    state: &AppState,
    ctx: &AuthContext,
    kind: Kind,
    user_id: String,
    params: String,
    fresh: bool,
    compute: Compute<T>,
) -> Result<T, ApiError> {
    let principal = ctx.principal.clone();
    let resolve = resolver(move |conn| {
        Box::pin(async move {
            let (user, org) =
                subject::learner(conn, &principal, "subject.user_id", &user_id).await?;
            let mut key = Key::new(kind, Some(org), Subject::User(user)).with_params(params);
            if kind.audience() == Audience::Predictive {
                key.opted_out = subject::opted_out(conn, user, kind).await?;
            }
            Ok(key)
        })
    });
    Ok(finish(serve(state, ctx, fresh, resolve, compute).await?))
}

fn user_of(subject: Option<pb::LearnerSubject>) -> String {
    subject.map(|s| s.user_id).unwrap_or_default()
}

/// An RPC whose subject message goes to the family's `$about` resolver
/// and whose answer `$compute` computes.
macro_rules! analytic {
    ($name:ident, $req:ident, $resp:ident, $about:ident, $kind:expr, $compute:path) => {
        pub async fn $name(
            state: &AppState,
            ctx: &AuthContext,
            req: pb::$req,
        ) -> Result<pb::$resp, ApiError> {
            $about(state, ctx, $kind, req.subject, req.fresh, |c, k| {
                Box::pin($compute(c, k))
            })
            .await
        }
    };
}

analytic!(
    learning_velocity,
    GetLearningVelocityRequest,
    GetLearningVelocityResponse,
    about_learner,
    Kind::LearningVelocity,
    learner::velocity
);
analytic!(
    skill_gap_matrix,
    GetSkillGapMatrixRequest,
    GetSkillGapMatrixResponse,
    about_learner,
    Kind::SkillGapMatrix,
    learner::gap_matrix_of
);
analytic!(
    engagement_score,
    GetEngagementScoreRequest,
    GetEngagementScoreResponse,
    about_learner,
    Kind::EngagementScore,
    learner::engagement
);
analytic!(
    mastery_progress,
    GetMasteryProgressRequest,
    GetMasteryProgressResponse,
    about_learner,
    Kind::MasteryProgress,
    learner::mastery
);
analytic!(
    assessment_performance,
    GetAssessmentPerformanceRequest,
    GetAssessmentPerformanceResponse,
    about_learner,
    Kind::AssessmentPerformance,
    learner::performance
);
analytic!(
    content_effectiveness,
    GetContentEffectivenessRequest,
    GetContentEffectivenessResponse,
    about_learner,
    Kind::ContentEffectiveness,
    learner::effectiveness
);
analytic!(
    drop_off_risk,
    GetDropOffRiskRequest,
    GetDropOffRiskResponse,
    about_learner,
    Kind::DropOffRisk,
    predictive::drop_off_risk
);
analytic!(
    recommendations,
    GetRecommendationsRequest,
    GetRecommendationsResponse,
    about_learner,
    Kind::Recommendations,
    predictive::recommendations
);

pub async fn outcome_forecast(
    state: &AppState,
    ctx: &AuthContext,
    req: pb::GetOutcomeForecastRequest,
) -> Result<pb::GetOutcomeForecastResponse, ApiError> {
    let course = if req.course_id.is_empty() {
        None
    } else {
        Some(uuid_or("course_id", &req.course_id, None)?)
    };
    about_learner_with(
        state,
        ctx,
        Kind::OutcomeForecast,
        user_of(req.subject),
        predictive::forecast_params(course),
        req.fresh,
        |c, k| Box::pin(predictive::forecast(c, k)),
    )
    .await
}

/// A trainer-family analytic over the courses `course_id` names.
async fn about_courses<T: Answer>(
    state: &AppState,
    ctx: &AuthContext,
    kind: Kind,
    subject: Option<pb::CourseSubject>,
    fresh: bool,
    compute: Compute<T>,
) -> Result<T, ApiError> {
    let principal = ctx.principal.clone();
    let course_id = subject.map(|s| s.course_id).unwrap_or_default();
    let resolve = resolver(move |conn| {
        Box::pin(async move {
            let (subject, org) = subject::courses(conn, &principal, &course_id).await?;
            // "All my courses" of a trainer is keyed by the trainer.
            let params = match subject {
                Subject::User(_) | Subject::Organization(_) => "all_courses".to_string(),
                _ => String::new(),
            };
            Ok(Key::new(kind, Some(org), subject).with_params(params))
        })
    });
    Ok(finish(serve(state, ctx, fresh, resolve, compute).await?))
}

analytic!(
    course_performance,
    GetCoursePerformanceRequest,
    GetCoursePerformanceResponse,
    about_courses,
    Kind::CoursePerformance,
    course::performance
);
analytic!(
    course_health,
    GetCourseHealthRequest,
    GetCourseHealthResponse,
    about_courses,
    Kind::CourseHealth,
    course::health
);
analytic!(
    student_distribution,
    GetStudentDistributionRequest,
    GetStudentDistributionResponse,
    about_courses,
    Kind::StudentDistribution,
    course::distribution
);

pub async fn teaching_effectiveness(
    state: &AppState,
    ctx: &AuthContext,
    req: pb::GetTeachingEffectivenessRequest,
) -> Result<pb::GetTeachingEffectivenessResponse, ApiError> {
    let principal = ctx.principal.clone();
    let trainer_id = req.trainer_id;
    let resolve = resolver(move |conn| {
        Box::pin(async move {
            let (trainer, org) = subject::trainer(conn, &principal, &trainer_id).await?;
            Ok(Key::new(
                Kind::TeachingEffectiveness,
                Some(org),
                Subject::User(trainer),
            ))
        })
    });
    let compute: Compute<_> = |c, k| Box::pin(course::teaching(c, k));
    Ok(finish(
        serve(state, ctx, req.fresh, resolve, compute).await?,
    ))
}

/// An organization-family analytic.
async fn about_organization<T: Answer>(
    state: &AppState,
    ctx: &AuthContext,
    kind: Kind,
    subject: Option<pb::OrganizationSubject>,
    fresh: bool,
    compute: Compute<T>,
) -> Result<T, ApiError> {
    let principal = ctx.principal.clone();
    let s = subject.unwrap_or_default();
    let resolve = resolver(move |conn| {
        Box::pin(async move {
            let scope = subject::organization(
                conn,
                &principal,
                &s.organization_id,
                &s.department_id,
                s.weeks,
            )
            .await?;
            Ok(Key::new(kind, Some(scope.org), scope.subject()).with_params(scope.params()))
        })
    });
    Ok(finish(serve(state, ctx, fresh, resolve, compute).await?))
}

analytic!(
    organization_velocity,
    GetOrganizationVelocityRequest,
    GetOrganizationVelocityResponse,
    about_organization,
    Kind::OrganizationVelocity,
    organization::velocity
);
analytic!(
    strategic_alignment,
    GetStrategicAlignmentRequest,
    GetStrategicAlignmentResponse,
    about_organization,
    Kind::StrategicAlignment,
    organization::alignment
);
analytic!(
    department_analytics,
    GetDepartmentAnalyticsRequest,
    GetDepartmentAnalyticsResponse,
    about_organization,
    Kind::DepartmentAnalytics,
    organization::departments
);
analytic!(
    learning_culture,
    GetLearningCultureRequest,
    GetLearningCultureResponse,
    about_organization,
    Kind::LearningCulture,
    organization::culture
);

pub async fn skill_demand(
    state: &AppState,
    ctx: &AuthContext,
    req: pb::GetSkillDemandRequest,
) -> Result<pb::GetSkillDemandResponse, ApiError> {
    let months = match req.months {
        0 => DEFAULT_MONTHS,
        m if m > MAX_MONTHS => {
            return Err(ApiError::invalid(
                "months",
                format!("must be at most {MAX_MONTHS}"),
            ));
        }
        m => m,
    };
    let (org, subject) = match (&ctx.principal, req.organization_id.as_str()) {
        (
            Principal::User {
                role: Role::PlatformAdmin,
                ..
            },
            "",
        ) => (None, Subject::Platform),
        (principal, id) => {
            let org = uuid_or("organization_id", id, principal.org_id())?;
            enforce(access::administer_org(principal, org))?;
            (Some(org), Subject::Organization(org))
        }
    };
    let resolve = resolver(move |conn| {
        Box::pin(async move {
            if let Some(org) = org {
                subject::ensure_org(conn, org).await?;
            }
            Ok(Key::new(Kind::SkillDemand, org, subject).with_params(format!("months={months}")))
        })
    });
    let compute: Compute<_> = |c, k| Box::pin(comparison::skill_demand(c, k));
    Ok(finish(
        serve(state, ctx, req.fresh, resolve, compute).await?,
    ))
}

pub async fn peer_comparison(
    state: &AppState,
    ctx: &AuthContext,
    req: pb::GetPeerComparisonRequest,
) -> Result<pb::GetPeerComparisonResponse, ApiError> {
    let group = match pb::PeerGroup::try_from(req.group) {
        Ok(pb::PeerGroup::Course) => Peers::Course(uuid_or("course_id", &req.course_id, None)?),
        Ok(pb::PeerGroup::JobRole) => Peers::JobRole,
        Ok(pb::PeerGroup::Organization | pb::PeerGroup::Unspecified) => Peers::Organization,
        Err(_) => return Err(ApiError::invalid("group", "is not a known peer group")),
    };
    let principal = ctx.principal.clone();
    let user_id = user_of(req.subject);
    let resolve = resolver(move |conn| {
        Box::pin(async move {
            let (user, org) =
                subject::learner(conn, &principal, "subject.user_id", &user_id).await?;
            check_membership(conn, user, group).await?;
            Ok(
                Key::new(Kind::PeerComparison, Some(org), Subject::User(user))
                    .with_params(group.params()),
            )
        })
    });
    let compute: Compute<_> = |c, k| Box::pin(comparison::peers(c, k));
    Ok(finish(
        serve(state, ctx, req.fresh, resolve, compute).await?,
    ))
}

/// A learner is compared with a course they take, or a job role they have.
async fn check_membership(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    group: Peers,
) -> Result<(), ApiError> {
    match group {
        Peers::Course(course) => {
            if !crate::db::analytics::subject::is_enrolled(conn, user, course).await? {
                return Err(ApiError::invalid(
                    "course_id",
                    "the learner is not enrolled in this course",
                ));
            }
        }
        Peers::JobRole => {
            if subject::job_role_of(conn, user).await?.is_none() {
                return Err(ApiError::invalid("group", "the learner has no job role"));
            }
        }
        Peers::Organization => {}
    }
    Ok(())
}
