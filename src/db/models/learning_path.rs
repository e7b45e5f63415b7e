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

use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// A learning path as the catalogue upserts it.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = learning_paths)]
pub struct CatalogLearningPath {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub description: Option<String>,
}

impl CatalogLearningPath {
    /// Catalogue upsert by id (see `api::events::catalog`); a stored row of
    /// another organization is left alone. Returns `(id, inserted)` of the
    /// rows inserted or changed.
    pub async fn upsert(
        conn: &mut AsyncPgConnection,
        rows: &[Self],
    ) -> QueryResult<Vec<(Uuid, bool)>> {
        super::catalog_upsert!(conn, learning_paths, rows,
            key: learning_paths::id,
            guard: learning_paths::organization_id.eq(excluded(learning_paths::organization_id)),
            set: [name, description],
            returning: learning_paths::id)
    }
}

impl NewLearningPathCourse {
    /// The courses of `paths` as (path, course, position).
    pub async fn of_paths(
        conn: &mut AsyncPgConnection,
        paths: &[Uuid],
    ) -> QueryResult<Vec<(Uuid, Uuid, i32)>> {
        learning_path_courses::table
            .filter(learning_path_courses::path_id.eq_any(paths))
            .select((
                learning_path_courses::path_id,
                learning_path_courses::course_id,
                learning_path_courses::position,
            ))
            .load(conn)
            .await
    }

    /// Replaces the courses of `paths` with `rows`.
    pub async fn replace(
        conn: &mut AsyncPgConnection,
        paths: &[Uuid],
        rows: &[Self],
    ) -> QueryResult<()> {
        diesel::delete(learning_path_courses::table)
            .filter(learning_path_courses::path_id.eq_any(paths))
            .execute(conn)
            .await?;
        diesel::insert_into(learning_path_courses::table)
            .values(rows)
            .execute(conn)
            .await
            .map(drop)
    }
}
