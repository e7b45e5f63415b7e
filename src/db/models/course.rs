//! `courses`, `lessons`, `course_skills`.

use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{course_skills, courses, lessons};

#[derive(Debug, Insertable)]
#[diesel(table_name = courses)]
pub struct NewCourse<'a> {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub trainer_id: Option<Uuid>,
    pub name: &'a str,
    pub expected_lessons: Option<i32>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = lessons)]
pub struct NewLesson {
    pub id: Uuid,
    pub course_id: Uuid,
    pub organization_id: Uuid,
    pub title: String,
    pub position: i32,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = course_skills)]
pub struct NewCourseSkill {
    pub course_id: Uuid,
    pub skill_id: Uuid,
    pub required_mastery: i16,
}

use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// A course as the catalogue upserts it (all its descriptive columns).
#[derive(Debug, Insertable)]
#[diesel(table_name = courses)]
pub struct CatalogCourse {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub trainer_id: Option<Uuid>,
    pub name: String,
    pub description: Option<String>,
    pub expected_lessons: Option<i32>,
    pub expected_duration_minutes: Option<i32>,
}

impl CatalogCourse {
    /// Catalogue upsert by id (see `api::events::catalog`); a stored row of
    /// another organization is left alone. Returns `(id, inserted)` of the
    /// rows inserted or changed.
    pub async fn upsert(
        conn: &mut AsyncPgConnection,
        rows: &[Self],
    ) -> QueryResult<Vec<(Uuid, bool)>> {
        super::catalog_upsert!(conn, courses, rows,
            key: courses::id,
            guard: courses::organization_id.eq(excluded(courses::organization_id)),
            set: [trainer_id, name, description, expected_lessons, expected_duration_minutes],
            returning: courses::id)
    }
}

impl NewLesson {
    /// Catalogue upsert by id; a lesson may move to another course of its
    /// organization, never to another organization. Returns `(id,
    /// inserted)` of the rows inserted or changed.
    pub async fn upsert_catalog(
        conn: &mut AsyncPgConnection,
        rows: &[Self],
    ) -> QueryResult<Vec<(Uuid, bool)>> {
        super::catalog_upsert!(conn, lessons, rows,
            key: lessons::id,
            guard: lessons::organization_id.eq(excluded(lessons::organization_id)),
            set: [course_id, title, position],
            returning: lessons::id)
    }
}

impl NewCourseSkill {
    /// Catalogue upsert by (course, skill). Returns `((course, skill),
    /// inserted)` of the links inserted or changed.
    pub async fn upsert_catalog(
        conn: &mut AsyncPgConnection,
        rows: &[Self],
    ) -> QueryResult<Vec<((Uuid, Uuid), bool)>> {
        super::catalog_upsert!(conn, course_skills, rows,
            key: (course_skills::course_id, course_skills::skill_id),
            // The key holds the course, whose organization is the link's.
            guard: course_skills::course_id.eq(excluded(course_skills::course_id)),
            set: [required_mastery],
            returning: (course_skills::course_id, course_skills::skill_id))
    }
}

/// Who owns and teaches a course.
#[derive(Debug, Queryable)]
pub struct CourseOwner {
    pub organization: Uuid,
    pub trainer: Option<Uuid>,
}

impl CourseOwner {
    /// The owner of `course`; `None` when the caller cannot see it.
    pub async fn of(conn: &mut AsyncPgConnection, course: Uuid) -> QueryResult<Option<Self>> {
        courses::table
            .find(course)
            .select((courses::organization_id, courses::trainer_id))
            .first(conn)
            .await
            .optional()
    }
}
