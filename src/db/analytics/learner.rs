//! The queries of the learner analytics (`api::analytics::learner`): one
//! person's days, courses, skills and assessments, and what their gaps are
//! measured against.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{
    assessments, course_skills, courses, daily_activity, enrollments, job_role_skills, lessons,
    org_priority_skills, organizations, skills, user_skills, users,
};
use crate::db::views::platform_skill_demand;

/// Lessons completed on each local day in [from, to] that has any activity.
pub async fn lessons_by_day(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<(NaiveDate, i32)>> {
    daily_activity::table
        .filter(daily_activity::user_id.eq(user))
        .filter(daily_activity::local_date.between(from, to))
        .select((
            daily_activity::local_date,
            daily_activity::lessons_completed,
        ))
        .load(conn)
        .await
}

/// One local day's activity figures.
#[derive(Debug, Queryable)]
pub struct ActivityDay {
    pub date: NaiveDate,
    pub logins: i32,
    pub session_seconds: i32,
    pub learning_activities: i32,
}

pub async fn activity_days(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<ActivityDay>> {
    daily_activity::table
        .filter(daily_activity::user_id.eq(user))
        .filter(daily_activity::local_date.between(from, to))
        .select((
            daily_activity::local_date,
            daily_activity::logins,
            daily_activity::session_seconds,
            daily_activity::learning_activities,
        ))
        .load(conn)
        .await
}

/// The settings of the person's organization.
pub async fn org_settings_of(
    conn: &mut AsyncPgConnection,
    user: Uuid,
) -> QueryResult<serde_json::Value> {
    organizations::table
        .inner_join(users::table)
        .filter(users::id.eq(user))
        .select(organizations::settings)
        .first(conn)
        .await
}

/// An active enrollment and the size its course announces.
#[derive(Debug, Queryable)]
pub struct ActiveCourse {
    pub course: Uuid,
    pub progress_percent: f64,
    pub expected_lessons: Option<i32>,
}

pub async fn active_courses(
    conn: &mut AsyncPgConnection,
    user: Uuid,
) -> QueryResult<Vec<ActiveCourse>> {
    enrollments::table
        .inner_join(courses::table.on(courses::id.eq(enrollments::course_id)))
        .filter(enrollments::user_id.eq(user))
        .filter(enrollments::status.eq("active"))
        .select((
            enrollments::course_id,
            enrollments::progress_percent,
            courses::expected_lessons,
        ))
        .load(conn)
        .await
}

/// How many lessons each of `courses` has (courses without any are absent).
pub async fn lesson_counts(
    conn: &mut AsyncPgConnection,
    courses: &[Uuid],
) -> QueryResult<HashMap<Uuid, i64>> {
    Ok(lessons::table
        .filter(lessons::course_id.eq_any(courses))
        .group_by(lessons::course_id)
        .select((lessons::course_id, diesel::dsl::count_star()))
        .load::<(Uuid, i64)>(conn)
        .await?
        .into_iter()
        .collect())
}

/// A skill the person holds, with its domain.
#[derive(Debug, Queryable)]
pub struct HeldSkill {
    pub domain: String,
    pub mastery_level: f64,
    pub mastered_at: Option<DateTime<Utc>>,
}

pub async fn held_skills(conn: &mut AsyncPgConnection, user: Uuid) -> QueryResult<Vec<HeldSkill>> {
    user_skills::table
        .inner_join(skills::table)
        .filter(user_skills::user_id.eq(user))
        .select((
            skills::domain,
            user_skills::mastery_level,
            user_skills::mastered_at,
        ))
        .load(conn)
        .await
}

/// One graded assessment.
#[derive(Debug, Clone, Queryable)]
pub struct Graded {
    pub course: Option<Uuid>,
    pub score: f64,
    pub graded_at: DateTime<Utc>,
}

/// A person's assessments, oldest first.
pub async fn assessments_of(conn: &mut AsyncPgConnection, user: Uuid) -> QueryResult<Vec<Graded>> {
    assessments::table
        .filter(assessments::user_id.eq(user))
        .order((assessments::graded_at.asc(), assessments::id.asc()))
        .select((
            assessments::course_id,
            assessments::score,
            assessments::graded_at,
        ))
        .load(conn)
        .await
}

/// One of the person's enrollments, with its course's name.
#[derive(Debug, Queryable)]
pub struct Enrolled {
    pub course: Uuid,
    pub course_name: String,
    pub progress_percent: f64,
    pub status: String,
    pub enrolled_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// The person's enrollments, by course name.
pub async fn enrollments_of(
    conn: &mut AsyncPgConnection,
    user: Uuid,
) -> QueryResult<Vec<Enrolled>> {
    enrollments::table
        .inner_join(courses::table.on(courses::id.eq(enrollments::course_id)))
        .filter(enrollments::user_id.eq(user))
        .order(courses::name.asc())
        .select((
            enrollments::course_id,
            courses::name,
            enrollments::progress_percent,
            enrollments::status,
            enrollments::enrolled_at,
            enrollments::completed_at,
        ))
        .load(conn)
        .await
}

/// A completed enrollment of anyone: when it started and ended.
#[derive(Debug, Queryable)]
pub struct Completion {
    pub course: Uuid,
    pub enrolled_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// The completed enrollments of `courses` (the caller sees what RLS lets it).
pub async fn completions(
    conn: &mut AsyncPgConnection,
    courses: &[Uuid],
) -> QueryResult<Vec<Completion>> {
    enrollments::table
        .filter(enrollments::course_id.eq_any(courses))
        .filter(enrollments::status.eq("completed"))
        .select((
            enrollments::course_id,
            enrollments::enrolled_at,
            enrollments::completed_at,
        ))
        .load(conn)
        .await
}

/// What a job role of the organization requires of a skill.
#[derive(Debug, Queryable)]
pub struct RoleRequirement {
    pub skill: Uuid,
    pub required_mastery: i16,
    pub career_impact: f64,
}

pub async fn job_role_requirements(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    job_role: &str,
) -> QueryResult<Vec<RoleRequirement>> {
    job_role_skills::table
        .filter(job_role_skills::organization_id.eq(org))
        .filter(job_role_skills::job_role.eq(job_role))
        .select((
            job_role_skills::skill_id,
            job_role_skills::required_mastery,
            job_role_skills::career_impact,
        ))
        .load(conn)
        .await
}

/// (skill, required mastery) of every skill the person's active courses teach.
pub async fn active_course_requirements(
    conn: &mut AsyncPgConnection,
    user: Uuid,
) -> QueryResult<Vec<(Uuid, i16)>> {
    course_skills::table
        .inner_join(enrollments::table.on(enrollments::course_id.eq(course_skills::course_id)))
        .filter(enrollments::user_id.eq(user))
        .filter(enrollments::status.eq("active"))
        .select((course_skills::skill_id, course_skills::required_mastery))
        .load(conn)
        .await
}

/// The person's mastery of each of `skills` they hold.
pub async fn mastery_of(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    skills: &[Uuid],
) -> QueryResult<HashMap<Uuid, f64>> {
    Ok(user_skills::table
        .filter(user_skills::user_id.eq(user))
        .filter(user_skills::skill_id.eq_any(skills))
        .select((user_skills::skill_id, user_skills::mastery_level))
        .load::<(Uuid, f64)>(conn)
        .await?
        .into_iter()
        .collect())
}

/// The organization's priority weight of each of `skills` it prioritizes.
pub async fn priority_weights(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    skills: &[Uuid],
) -> QueryResult<HashMap<Uuid, f64>> {
    Ok(org_priority_skills::table
        .filter(org_priority_skills::organization_id.eq(org))
        .filter(org_priority_skills::skill_id.eq_any(skills))
        .select((org_priority_skills::skill_id, org_priority_skills::weight))
        .load::<(Uuid, f64)>(conn)
        .await?
        .into_iter()
        .collect())
}

/// A skill's name, domain and any market demand set on it by hand.
#[derive(Debug, Queryable)]
pub struct SkillInfo {
    pub id: Uuid,
    pub name: String,
    pub domain: String,
    pub market_demand: Option<f64>,
}

pub async fn skill_info(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<SkillInfo>> {
    skills::table
        .filter(skills::id.eq_any(ids))
        .select((
            skills::id,
            skills::name,
            skills::domain,
            skills::market_demand,
        ))
        .load(conn)
        .await
}

/// (skill, learners) of each month of platform demand from `from` on,
/// cohorts too small to show left out.
pub async fn platform_demand_since(
    conn: &mut AsyncPgConnection,
    from: NaiveDate,
) -> QueryResult<Vec<(Uuid, Option<i64>)>> {
    platform_skill_demand::table
        .filter(platform_skill_demand::month.ge(from))
        .filter(platform_skill_demand::suppressed.eq(false))
        .select((
            platform_skill_demand::skill_id,
            platform_skill_demand::learner_count,
        ))
        .load(conn)
        .await
}
