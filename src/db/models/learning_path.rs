//! `learning_paths` and `learning_path_courses`.

use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{learning_path_courses, learning_paths};

#[derive(Debug, Insertable)]
#[diesel(table_name = learning_paths)]
pub struct NewLearningPath<'a> {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: &'a str,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = learning_path_courses)]
pub struct NewLearningPathCourse {
    pub path_id: Uuid,
    pub course_id: Uuid,
    pub position: i32,
}
