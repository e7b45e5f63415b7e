//! The queries of `api::analytics::course`.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{assessments, courses, enrollments};

/// Which courses a trainer-family analytic covers.
#[derive(Debug, Clone, Copy)]
pub enum Courses {
    /// One course.
    One(Uuid),
    /// The courses a trainer teaches.
    TaughtBy(Uuid),
    /// Every course of an organization.
    Of(Uuid),
}

/// A course and its name.
#[derive(Queryable)]
pub struct Course {
    pub id: Uuid,
    pub name: String,
}

/// The courses of `set`, by name.
pub async fn course_set(conn: &mut AsyncPgConnection, set: Courses) -> QueryResult<Vec<Course>> {
    let query = courses::table
        .select((courses::id, courses::name))
        .order((courses::name.asc(), courses::id.asc()))
        .into_boxed();
    let query = match set {
        Courses::One(id) => query.filter(courses::id.eq(id)),
        Courses::TaughtBy(trainer) => query.filter(courses::trainer_id.eq(trainer)),
        Courses::Of(org) => query.filter(courses::organization_id.eq(org)),
    };
    query.load(conn).await
}

/// An enrollment in a course, with its person.
#[derive(Queryable)]
pub struct CourseEnrollment {
    pub course_id: Uuid,
    pub user_id: Uuid,
    pub status: String,
    pub enrolled_at: DateTime<Utc>,
    pub last_progress_at: Option<DateTime<Utc>>,
}

/// Every enrollment in the courses `ids`.
pub async fn enrollments_of(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> QueryResult<Vec<CourseEnrollment>> {
    enrollments::table
        .filter(enrollments::course_id.eq_any(ids))
        .select((
            enrollments::course_id,
            enrollments::user_id,
            enrollments::status,
            enrollments::enrolled_at,
            enrollments::last_progress_at,
        ))
        .load(conn)
        .await
}

/// A score of a person in a course.
pub struct StudentScore {
    pub course_id: Uuid,
    pub user_id: Uuid,
    pub score: f64,
}

/// Each (course, person)'s scores in `ids`.
pub async fn scores_by_student(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> QueryResult<Vec<StudentScore>> {
    let rows: Vec<(Option<Uuid>, Uuid, f64)> = assessments::table
        .filter(assessments::course_id.eq_any(ids))
        .select((
            assessments::course_id,
            assessments::user_id,
            assessments::score,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(c, user_id, score)| {
            c.map(|course_id| StudentScore {
                course_id,
                user_id,
                score,
            })
        })
        .collect())
}

/// The courses `trainer` teaches.
pub async fn taught_by(conn: &mut AsyncPgConnection, trainer: Uuid) -> QueryResult<HashSet<Uuid>> {
    Ok(courses::table
        .filter(courses::trainer_id.eq(trainer))
        .select(courses::id)
        .load::<Uuid>(conn)
        .await?
        .into_iter()
        .collect())
}

/// An enrollment's course, person and status.
#[derive(Queryable)]
pub struct EnrollmentStatus {
    pub course_id: Uuid,
    pub user_id: Uuid,
    pub status: String,
}

/// Every enrollment in `org`.
pub async fn org_enrollments(
    conn: &mut AsyncPgConnection,
    org: Uuid,
) -> QueryResult<Vec<EnrollmentStatus>> {
    enrollments::table
        .filter(enrollments::organization_id.eq(org))
        .select((
            enrollments::course_id,
            enrollments::user_id,
            enrollments::status,
        ))
        .load(conn)
        .await
}

/// An assessment's score and the course it was in, if any.
#[derive(Queryable)]
pub struct Score {
    pub course_id: Option<Uuid>,
    pub score: f64,
}

/// Every assessment score in `org`.
pub async fn org_scores(conn: &mut AsyncPgConnection, org: Uuid) -> QueryResult<Vec<Score>> {
    assessments::table
        .filter(assessments::organization_id.eq(org))
        .select((assessments::course_id, assessments::score))
        .load(conn)
        .await
}
