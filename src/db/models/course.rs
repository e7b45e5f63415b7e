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
